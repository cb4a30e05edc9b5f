package dev.fp4.spark;

import dev.fp4.nn.checkpoint.CheckpointDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.resource.ResourceProfile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks on the driver, before the barrier stage is submitted, for what would otherwise fail late
 * or hang: each failure is an {@link IllegalArgumentException} saying what to change.
 */
final class Preflight {
    private static final Logger LOG = LoggerFactory.getLogger(Preflight.class);

    private Preflight() {
    }

    static void check(JavaSparkContext sc, SparkTrainingData data, SparkTrainingOptions options) {
        SparkConf conf = sc.getConf();
        if (conf.getBoolean("spark.dynamicAllocation.enabled", false)) {
            throw new IllegalArgumentException("spark.dynamicAllocation.enabled is true, and Spark's barrier mode cannot run with "
                    + "dynamic allocation: set spark.dynamicAllocation.enabled=false for this job");
        }
        int workers = options.workers();
        int slots = waitForSlots(sc, workers);
        if (slots < workers) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%d workers need %d free task slots, and master %s offers %d (executors x cores / spark.task.cpus): "
                            + "lower --workers or add executors", workers, workers, sc.master(), slots));
        }
        if (data.sharded() && data.shardRdd().getNumPartitions() != workers) {
            throw new IllegalArgumentException("data " + data.name() + " comes in " + data.shardRdd().getNumPartitions()
                    + " partitions, and --data-mode shard needs one partition per worker (" + workers + "): give "
                    + workers + " files of similar size, or use --data-mode broadcast");
        }
        checkCheckpoints(options);
        if (!conf.contains("spark.barrier.sync.timeout")) {
            LOG.warn("spark.barrier.sync.timeout is not set (Spark's default is 365 days): a replica that never reaches a barrier "
                    + "would hold the job that long; set it, e.g. to the peer timeout ({} s)", options.peerTimeout().toSeconds());
        }
        if (sc.isLocal() && localMaxFailures(sc.master()) < 2) {
            LOG.warn("master {} gives up at the first task failure; use local[N,F] (F >= 2) to let Spark re-run the stage", sc.master());
        }
    }

    /** Task slots of the cluster, waiting (up to Spark's registration wait) for executors to register. */
    private static int waitForSlots(JavaSparkContext sc, int workers) {
        long waitMs = sc.getConf().getTimeAsMs("spark.scheduler.maxRegisteredResourcesWaitingTime", "30s");
        long deadline = System.nanoTime() + waitMs * 1_000_000L;
        int slots = slots(sc);
        while (slots < workers && !sc.isLocal() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            slots = slots(sc);
        }
        return slots;
    }

    /** What Spark's own barrier check counts: concurrent tasks of the default resource profile. */
    private static int slots(JavaSparkContext sc) {
        ResourceProfile rp = sc.sc().resourceProfileManager().defaultResourceProfile();
        return sc.sc().maxNumConcurrentTasks(rp);
    }

    /** F of local[N,F] (1 for local and local[N]). */
    static int localMaxFailures(String master) {
        var m = java.util.regex.Pattern.compile("local\\[[^,\\]]+,\\s*(\\d+)\\]").matcher(master);
        return m.matches() ? Integer.parseInt(m.group(1)) : 1;
    }

    private static void checkCheckpoints(SparkTrainingOptions options) {
        if (options.checkpointDir() == null) {
            if (options.resume()) {
                throw new IllegalArgumentException("resume needs a checkpoint directory");
            }
            return;
        }
        Path dir = Path.of(options.checkpointDir());
        if (!Files.isDirectory(dir)) {
            if (options.resume()) {
                throw new IllegalArgumentException("--resume: no checkpoint directory " + dir + " (on the driver's file system)");
            }
            return;
        }
        try {
            CheckpointDirectory ck = new CheckpointDirectory(dir, options.keep());
            if (options.resume() && ck.latestValid().isEmpty()) {
                throw new IllegalArgumentException("--resume: no valid checkpoint in " + dir);
            }
            if (!options.resume() && !ck.list().isEmpty()) {
                throw new IllegalArgumentException(dir + " already holds checkpoints: pass --resume to continue, or another --checkpoint-dir");
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read checkpoint directory " + dir + ": " + e.getMessage(), e);
        }
    }
}
