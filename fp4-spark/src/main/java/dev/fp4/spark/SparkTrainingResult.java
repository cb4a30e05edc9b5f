package dev.fp4.spark;

import dev.fp4.nn.train.TrainingResult;
import dev.fp4.nn.train.WindowLosses;
import dev.fp4.spark.comm.GradientCodec;
import java.util.Collections;
import java.util.SortedMap;

/**
 * The outcome of a {@link SparkTrainer} run.
 *
 * @param training            rank 0's result: every step's record (steps an earlier attempt
 *                            completed before a failure come from the live progress, the rest
 *                            from the final attempt), status, message, last checkpoint; seconds
 *                            and tokens are the final attempt's
 * @param workers             replicas
 * @param gradComm            the gradient payload format
 * @param attempts            stage attempts Spark ran (1 when nothing failed)
 * @param resumedFrom         the step the final attempt started from
 * @param computeSeconds      per step (1-based): each rank's forward and backward time
 * @param waitSeconds         per step: each rank's wait for the all-reduce after its backward
 * @param bytesSent           bytes all replicas of the final attempt wrote to each other
 * @param rejectedConnections connections the replicas refused (no or wrong job secret)
 * @param finalValidation     the loss over every window of the validation split at the end of a
 *                            completed run (the replicas share the windows), or null
 */
public record SparkTrainingResult(TrainingResult training, int workers, GradientCodec gradComm, int attempts, long resumedFrom,
                                  SortedMap<Long, double[]> computeSeconds, SortedMap<Long, double[]> waitSeconds, long bytesSent,
                                  int rejectedConnections, WindowLosses finalValidation) {
    /** Wraps the maps read-only. */
    public SparkTrainingResult {
        computeSeconds = Collections.unmodifiableSortedMap(computeSeconds);
        waitSeconds = Collections.unmodifiableSortedMap(waitSeconds);
    }

    /** Training tokens per second of the final attempt. */
    public double tokensPerSecond() {
        return training.tokensPerSecond();
    }

    /** Bytes all replicas wrote per step of the final attempt (0 when it ran no step). */
    public double bytesPerStep() {
        long steps = training.stepsCompleted() - resumedFrom;
        return steps > 0 ? (double) bytesSent / steps : 0;
    }

    /** Mean over steps and ranks of the all-reduce wait, in seconds (NaN without data). */
    public double meanWaitSeconds() {
        return mean(waitSeconds);
    }

    /** Mean over steps and ranks of the compute time, in seconds (NaN without data). */
    public double meanComputeSeconds() {
        return mean(computeSeconds);
    }

    private static double mean(SortedMap<Long, double[]> m) {
        double s = 0;
        long n = 0;
        for (double[] v : m.values()) {
            for (double x : v) {
                s += x;
                n++;
            }
        }
        return n == 0 ? Double.NaN : s / n;
    }
}
