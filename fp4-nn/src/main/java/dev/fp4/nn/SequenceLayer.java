package dev.fp4.nn;

import java.util.List;

/**
 * A layer over a batch of sequences, its activations row-major [batch·seq, width]: the contract the
 * blocks of {@link LlamaModel} follow, for models composed by the caller (llm.c's per-layer
 * forward and backward functions are the model).
 *
 * <p>{@link #forward} computes y from x and keeps what the backward needs (x itself may be kept
 * by reference: leave it unchanged until the backward). {@link #backward}, after a forward,
 * writes dL/dx for the given dL/dy and <em>adds</em> the parameter gradients into
 * {@link Parameter#grad()} (zero them between steps with {@link Parameter#zeroGrad()}). Under the
 * FP32 recipe the backward is the exact gradient of the forward in FP32 arithmetic; under an FP4
 * recipe it is that recipe's gradient (straight-through or DGE). Results do not depend on the
 * thread count. Implementations are not thread-safe.
 *
 * <p>Implemented by {@link Linear}, {@link Attention}, {@link FeedForward} and
 * {@link TransformerBlock}.
 */
public interface SequenceLayer {
    /** Elements per input row. */
    int inputWidth();

    /** Elements per output row. */
    int outputWidth();

    /**
     * y[batch·seq, outputWidth] = layer(x[batch·seq, inputWidth]).
     *
     * @throws IllegalArgumentException for a non-positive batch or seq, a seq beyond the model's
     *                                  context, or arrays shorter than the shapes
     */
    void forward(float[] x, float[] y, int batch, int seq);

    /**
     * dx[batch·seq, inputWidth] = dL/dx for dy = dL/dy of the last forward; adds dL/dθ into the
     * parameters' gradients.
     *
     * @throws IllegalStateException when no forward came before
     */
    void backward(float[] dy, float[] dx);

    /** The trainable parameters, in a fixed order. */
    List<Parameter> parameters();
}
