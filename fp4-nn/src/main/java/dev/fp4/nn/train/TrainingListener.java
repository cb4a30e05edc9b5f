package dev.fp4.nn.train;

import java.nio.file.Path;

/** Progress callbacks of a {@link Trainer}, called on the training thread. */
public interface TrainingListener {
    /** After every optimizer step (with the validation loss when one was computed). */
    default void onStep(StepRecord record, long totalSteps) {
    }

    /** After a checkpoint was written. */
    default void onCheckpoint(long step, Path file) {
    }

    /** No-op listener. */
    TrainingListener NONE = new TrainingListener() {
    };
}
