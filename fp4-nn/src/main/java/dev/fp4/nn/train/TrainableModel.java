package dev.fp4.nn.train;

import dev.fp4.nn.Parameter;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What the {@link Trainer} needs from a model: the calls of {@code dev.fp4.nn.LlamaModel} (see
 * docs/architecture.md), plus a name for its recipe and its configuration for checkpoints.
 * {@code LlamaTrainable} adapts a {@code LlamaModel}; tests use small models of their own.
 *
 * <p>For exact resumption every source of randomness in forward/backward must be a function of
 * the model seed and the step set by {@link #setStep}: the trainer restores parameters, optimizer
 * state, data position and step, nothing else.
 */
public interface TrainableModel {
    /** Trainable parameters in a fixed order. */
    List<Parameter> parameters();

    /**
     * Mean cross-entropy of a batch, keeping what {@link #backward()} needs. A non-finite loss is
     * either returned or reported by throwing {@link ArithmeticException}; the trainer's guard
     * stops the run on both.
     */
    float forward(int[] tokens, int[] targets, int batch, int seq);

    /** Adds the gradient of the last forward's mean loss into every {@link Parameter#grad()}. */
    void backward();

    /**
     * As {@link #backward()}, and calls {@code ready} with each parameter as soon as its gradient
     * is complete (every parameter exactly once, in the order the backward pass finishes them), so
     * that a data-parallel run can send a layer's gradients while the layers below it are still
     * running. The default runs {@link #backward()} and then reports every parameter in order.
     */
    default void backward(Consumer<Parameter> ready) {
        backward();
        parameters().forEach(ready);
    }

    /**
     * Sets the index of the next training forward within the current step: micro-batch
     * {@code index} of the step's global micro-batches. Models with stochastic rounding draw its
     * variates from (seed, step, this index), so the replica that runs micro-batch {@code index}
     * of a data-parallel step rounds exactly as a single process accumulating the same
     * micro-batches does. The default ignores it.
     */
    default void setMicroBatch(int index) {
    }

    /**
     * Sets the seed of stochastic rounding (the {@link Trainer} derives it from the training seed,
     * {@link Trainer#roundingSeed}). The default ignores it.
     */
    default void setRoundingSeed(long seed) {
    }

    /** Mean cross-entropy of a batch without keeping state. */
    float evaluate(int[] tokens, int[] targets, int batch, int seq);

    /**
     * The mean loss of each row of a batch, {@code rowLoss[b]} for b in [0, batch), without keeping
     * state. This default evaluates the rows one at a time; models that can report per-position
     * losses of one batched call override it.
     */
    default void evaluateRows(int[] tokens, int[] targets, int batch, int seq, double[] rowLoss) {
        int[] t = new int[seq];
        int[] y = new int[seq];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(tokens, b * seq, t, 0, seq);
            System.arraycopy(targets, b * seq, y, 0, seq);
            rowLoss[b] = evaluate(t, y, 1, seq);
        }
    }

    /** Tells the model the current optimizer step (0-based) of {@code totalSteps}. */
    void setStep(long step, long totalSteps);

    /** Name of the precision recipe in use. */
    String recipeName();

    /** The model configuration as strings (written into checkpoints and compared on resume). */
    Map<String, String> config();
}
