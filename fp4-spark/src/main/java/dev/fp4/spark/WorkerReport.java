package dev.fp4.spark;

import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.TrainingResult;
import dev.fp4.nn.train.WindowLosses;
import java.io.Serializable;
import java.util.List;

/**
 * What one replica's barrier task returns to the driver.
 *
 * @param rank                the replica's rank
 * @param attempt             the stage attempt that ran it
 * @param status              how its training ended
 * @param message             the trainer's message
 * @param stepsCompleted      steps completed in total
 * @param lastCheckpoint      rank 0's newest checkpoint, or null
 * @param records             rank 0's records of this attempt (empty on other ranks)
 * @param resumedFrom         the step this attempt resumed from (0: a fresh start)
 * @param seconds             wall time of this attempt's training
 * @param tokens              training tokens of this attempt (all replicas together)
 * @param bytesSent           bytes this replica wrote to its peers
 * @param bytesReceived       bytes it read from them
 * @param rejectedConnections connections it refused
 * @param finalValidation     rank 0: the loss over the whole validation split at the end of a completed run, or null
 */
record WorkerReport(int rank, int attempt, TrainingResult.Status status, String message, long stepsCompleted, String lastCheckpoint,
                    List<StepRecord> records, long resumedFrom, double seconds, long tokens, long bytesSent, long bytesReceived,
                    int rejectedConnections, WindowLosses finalValidation) implements Serializable {
}
