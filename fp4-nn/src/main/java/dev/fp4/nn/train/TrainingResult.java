package dev.fp4.nn.train;

import java.nio.file.Path;
import java.util.List;

/**
 * The outcome of {@link Trainer#run()}.
 *
 * @param records        one per step run in this call, in order
 * @param stepsCompleted optimizer steps completed in total (including before a resume)
 * @param status         how the run ended
 * @param message        human-readable explanation (the guard's reason when stopped)
 * @param lastCheckpoint the newest checkpoint written or resumed from, or null
 * @param seconds        wall time of this call
 * @param tokens         training tokens processed in this call
 */
public record TrainingResult(List<StepRecord> records, long stepsCompleted, Status status, String message, Path lastCheckpoint,
                             double seconds, long tokens) {
    /** How a run ended. */
    public enum Status {
        /** All steps done. */
        COMPLETED,
        /** Stopped on request (e.g. Ctrl-C) after writing a checkpoint. */
        INTERRUPTED,
        /** Stopped by the guard: non-finite loss or gradient. */
        NON_FINITE,
        /** Stopped by the guard: the loss diverged. */
        DIVERGED,
        /**
         * Stopped because the model failed for a reason that is not numerical: a capacity limit
         * ({@code CapacityException} naming the size), a bad shape or a bug. The message names the
         * exception and what it says.
         */
        FAILED
    }

    /** Training tokens per second over this call. */
    public double tokensPerSecond() {
        return seconds > 0 ? tokens / seconds : 0;
    }

    /** The last record with a validation loss, or null. */
    public StepRecord lastEvaluated() {
        for (int i = records.size() - 1; i >= 0; i--) {
            if (records.get(i).evaluated()) {
                return records.get(i);
            }
        }
        return null;
    }
}
