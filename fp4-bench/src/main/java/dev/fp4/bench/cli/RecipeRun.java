package dev.fp4.bench.cli;

import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.TrainingResult;
import dev.fp4.nn.train.WindowLosses;
import java.util.List;

/**
 * One recipe's run in a comparison.
 *
 * @param recipe          recipe name
 * @param records         per-step records
 * @param status          how it ended
 * @param message         the trainer's message
 * @param seconds         wall time
 * @param tokensPerSecond training throughput
 * @param fullValidation  the losses over every window of the validation split at the end, or null
 */
record RecipeRun(String recipe, List<StepRecord> records, TrainingResult.Status status, String message, double seconds,
                 double tokensPerSecond, WindowLosses fullValidation) {
    /** Mean training loss over the last min(10, n) steps (single steps are noisy); NaN when none. */
    double finalTrainLoss() {
        int n = records.size();
        if (n == 0) {
            return Double.NaN;
        }
        int k = Math.min(10, n);
        double s = 0;
        for (int i = n - k; i < n; i++) {
            s += records.get(i).trainLoss();
        }
        return s / k;
    }

    /** Validation loss of the last evaluation; NaN when none. */
    double finalValLoss() {
        for (int i = records.size() - 1; i >= 0; i--) {
            if (records.get(i).evaluated()) {
                return records.get(i).valLoss();
            }
        }
        return Double.NaN;
    }
}
