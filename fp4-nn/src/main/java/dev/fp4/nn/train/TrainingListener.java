package dev.fp4.nn.train;

import java.nio.file.Path;

/** Progress callbacks of a {@link Trainer}, called on the training thread. */
public interface TrainingListener {
    /** After every optimizer step (with the validation loss when one was computed). */
    default void onStep(StepRecord record, long totalSteps) {
    }

    /**
     * After every step (before {@link #onStep}): each replica's time in seconds spent computing
     * its micro-batches' forward and backward, and waiting for the gradient all-reduce after
     * that, indexed by rank (the same arrays on every replica; one replica, waiting 0, in a
     * single process).
     *
     * @param step steps completed (1-based), as in {@link StepRecord#step()}
     */
    default void onReplicaTimes(long step, double[] computeSeconds, double[] waitSeconds) {
    }

    /** After a checkpoint was written. */
    default void onCheckpoint(long step, Path file) {
    }

    /** After a periodic evaluation of the validation batches (a finite loss; the step's record follows). */
    default void onEvaluation(long step, double validationLoss) {
    }

    /**
     * When the model failed for a non-numerical reason (a bug, a capacity limit) during step
     * {@code step} (1-based) or its evaluation; the run then ends as
     * {@link TrainingResult.Status#FAILED} (in a replica group the exception propagates instead).
     */
    default void onError(long step, RuntimeException error) {
    }

    /** Once, as {@link Trainer#run} returns, with its result (completed, interrupted or stopped by the guard). */
    default void onStop(TrainingResult result) {
    }

    /** No-op listener. */
    TrainingListener NONE = new TrainingListener() {
    };
}
