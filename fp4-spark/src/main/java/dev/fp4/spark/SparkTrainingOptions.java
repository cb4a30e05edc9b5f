package dev.fp4.spark;

import dev.fp4.spark.comm.GradientCodec;
import java.io.Serializable;
import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link SparkTrainer} run is spread and kept. Start from {@link #workers(int)} and change
 * fields with the {@code with…} methods.
 *
 * @param workers         replicas (barrier tasks), one micro-batch each per step and per
 *                        {@code TrainingConfig.accumulation()}
 * @param gradComm        payload format of the gradient all-reduce (sums are always FP32)
 * @param checkpointDir   directory rank 0 writes checkpoints to, or null for none; on a cluster
 *                        it must be a path every executor sees (a shared file system), since a
 *                        retried stage may run rank 0 on another host
 * @param keep            checkpoints kept
 * @param resume          continue from the newest valid checkpoint of {@code checkpointDir}
 * @param forceResume     with {@code resume}: accept a checkpoint of a different run that can be
 *                        loaded (see {@code Trainer.resume(Checkpoint, boolean)})
 * @param threads         compute threads per worker, or 0 for the JVM's processors
 * @param frameBytes      largest frame of the all-reduce
 * @param peerTimeout     the longest any wait for a peer may last (connecting, each all-reduce,
 *                        each gather); on a cluster also set {@code spark.barrier.sync.timeout}
 * @param fault           a failure to inject, for testing recovery, or null
 */
public record SparkTrainingOptions(int workers, GradientCodec gradComm, String checkpointDir, int keep, boolean resume, boolean forceResume, int threads,
                                   int frameBytes, Duration peerTimeout, FaultInjection fault) implements Serializable {
    /**
     * Makes replica {@code rank} fail right after step {@code step} of the stage's first attempt
     * (once the step's record exists, before rank 0 writes that step's checkpoint), as a crashed
     * task would; Spark then re-runs the stage, which resumes from the newest checkpoint.
     *
     * @param rank the replica that fails
     * @param step the step after which it fails (1-based)
     */
    public record FaultInjection(int rank, long step) implements Serializable {
    }

    /** Validates, naming the offending field. */
    public SparkTrainingOptions {
        if (workers < 1) {
            throw new IllegalArgumentException("workers must be positive, got " + workers);
        }
        Objects.requireNonNull(gradComm, "gradComm");
        Objects.requireNonNull(peerTimeout, "peerTimeout");
        if (keep < 1) {
            throw new IllegalArgumentException("keep must be positive, got " + keep);
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        }
        if (frameBytes < 64) {
            throw new IllegalArgumentException("frameBytes must be at least 64, got " + frameBytes);
        }
        if (peerTimeout.isNegative() || peerTimeout.isZero()) {
            throw new IllegalArgumentException("peerTimeout must be positive, got " + peerTimeout);
        }
        if (fault != null && (fault.rank() < 0 || fault.rank() >= workers || fault.step() < 1)) {
            throw new IllegalArgumentException("fault injection needs 0 <= rank < workers and step >= 1, got " + fault);
        }
    }

    /** {@code n} workers, FP32 gradients, no checkpoints, all processors, 1 MiB frames, 10 minutes. */
    public static SparkTrainingOptions workers(int n) {
        return new SparkTrainingOptions(n, GradientCodec.FP32, null, 3, false, false, 0, 1 << 20, Duration.ofMinutes(10), null);
    }

    /** A copy with another gradient payload format. */
    public SparkTrainingOptions withGradComm(GradientCodec c) {
        return new SparkTrainingOptions(workers, c, checkpointDir, keep, resume, forceResume, threads, frameBytes, peerTimeout, fault);
    }

    /** A copy with checkpoints in {@code dir} (null: none), keeping {@code keepCount}. */
    public SparkTrainingOptions withCheckpoints(String dir, int keepCount) {
        return new SparkTrainingOptions(workers, gradComm, dir, keepCount, resume, forceResume, threads, frameBytes, peerTimeout, fault);
    }

    /** A copy that resumes (or not) from the newest valid checkpoint. */
    public SparkTrainingOptions withResume(boolean r) {
        return new SparkTrainingOptions(workers, gradComm, checkpointDir, keep, r, forceResume, threads, frameBytes, peerTimeout, fault);
    }

    /** A copy that forces (or not) a resume of a different run's checkpoint. */
    public SparkTrainingOptions withForceResume(boolean f) {
        return new SparkTrainingOptions(workers, gradComm, checkpointDir, keep, resume, f, threads, frameBytes, peerTimeout, fault);
    }

    /** A copy with {@code n} compute threads per worker (0: all processors). */
    public SparkTrainingOptions withThreads(int n) {
        return new SparkTrainingOptions(workers, gradComm, checkpointDir, keep, resume, forceResume, n, frameBytes, peerTimeout, fault);
    }

    /** A copy with another frame size of the all-reduce. */
    public SparkTrainingOptions withFrameBytes(int bytes) {
        return new SparkTrainingOptions(workers, gradComm, checkpointDir, keep, resume, forceResume, threads, bytes, peerTimeout, fault);
    }

    /** A copy with another peer timeout. */
    public SparkTrainingOptions withPeerTimeout(Duration t) {
        return new SparkTrainingOptions(workers, gradComm, checkpointDir, keep, resume, forceResume, threads, frameBytes, t, fault);
    }

    /** A copy that injects a failure (null: none). */
    public SparkTrainingOptions withFault(FaultInjection f) {
        return new SparkTrainingOptions(workers, gradComm, checkpointDir, keep, resume, forceResume, threads, frameBytes, peerTimeout, f);
    }
}
