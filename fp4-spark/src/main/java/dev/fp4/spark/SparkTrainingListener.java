package dev.fp4.spark;

import dev.fp4.nn.train.TrainingListener;
import java.util.List;

/**
 * Live progress of a {@link SparkTrainer} run on the driver: every {@link TrainingListener} call
 * of rank 0's trainer, forwarded as it happens (steps, each replica's compute and all-reduce wait
 * times, checkpoints), plus the start of each stage attempt. Called on one driver thread. A stage
 * that Spark re-runs resumes from a checkpoint, so steps after it are reported again.
 */
public interface SparkTrainingListener extends TrainingListener {
    /** The replicas of stage attempt {@code attempt} (0 first) are connected, at these addresses. */
    default void onAttempt(int attempt, List<String> replicaAddresses) {
    }
}
