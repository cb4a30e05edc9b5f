package dev.fp4.nn.optim;

import dev.fp4.nn.checkpoint.TensorData;
import java.util.Map;

/**
 * What a {@link dev.fp4.nn.train.Trainer} needs of an optimizer: a step over the parameters'
 * current gradients at a learning rate, and its state for checkpoints. {@link AdamW} is the
 * library's; a trainer takes another through {@code Trainer.Setup}.
 */
public interface Optimizer {
    /**
     * Updates the parameters from their gradients ({@code Parameter.grad()}, not modified).
     *
     * @throws IllegalArgumentException when lr is negative or not finite
     */
    void step(double lr);

    /** Steps taken so far. */
    long stepCount();

    /**
     * The state a checkpoint stores (moments, step count) as views of the live buffers: write them
     * before the next step. The names must not collide with the parameters' names.
     */
    Map<String, TensorData> stateView();

    /**
     * Restores {@link #stateView()}'s entries from a checkpoint.
     *
     * @throws IllegalArgumentException naming a missing or mis-shaped entry
     */
    void loadState(Map<String, TensorData> state);
}
