package dev.fp4.spark;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.data.Tokenizer;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.nn.train.TrainingResult;
import dev.fp4.spark.comm.ProgressChannel;
import dev.fp4.spark.comm.TcpReplicaGroup;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.reflect.ClassTag$;

/**
 * Data-parallel training on Apache Spark. One run is one barrier stage of {@code workers} tasks
 * (Spark gang-schedules them, places them, feeds them the data and re-runs the stage when a task
 * fails); each task holds a replica of the model, built from the same seed, computes the
 * gradients of its micro-batch, and the replicas sum their gradients with a deterministic
 * all-reduce over TCP ({@link TcpReplicaGroup}) before every replica takes the same AdamW step.
 *
 * <p><b>Equivalence.</b> With FP32 gradient payloads and broadcast data, {@code workers} = N
 * replicas of batch b give the losses of a single-process {@code Trainer} with batch b and
 * accumulation N, bit for bit: replica w runs exactly micro-batch w of every step, with
 * micro-batch w's stochastic-rounding variates, and the all-reduce adds the gradients in rank
 * order, which is the order the single process accumulates them in. (With
 * {@code accumulation() = A > 1} per replica the replicas still agree with each other, and the sum
 * is (g₀ + … + g_{A−1}) + (g_A + …) + …: equal to the single process up to FP32 reassociation.)
 *
 * <p><b>Checkpoints and faults.</b> Rank 0 writes the same checkpoints as {@code fp4 train}
 * (resumable by either). When a task dies the stage fails, Spark re-runs it (given task retries:
 * {@code local[N,F]}, {@code spark.task.maxFailures} on a cluster), and every replica of the new
 * attempt resumes from the newest valid checkpoint, so the run ends with the losses of an
 * uninterrupted one.
 */
public final class SparkTrainer {
    private static final Logger LOG = LoggerFactory.getLogger(SparkTrainer.class);

    private SparkTrainer() {
    }

    /** As {@link #fit(JavaSparkContext, SparkTrainingData, LlamaConfig, String, TrainingConfig, SparkTrainingOptions, SparkTrainingListener)} with default options for {@code workers} and no listener. */
    public static SparkTrainingResult fit(JavaSparkContext sc, SparkTrainingData data, LlamaConfig model, String recipe,
                                          TrainingConfig training, int workers) {
        return fit(sc, data, model, recipe, training, SparkTrainingOptions.workers(workers), new SparkTrainingListener() {
        });
    }

    /**
     * Trains a LLaMA model of {@code model}'s shape under {@code recipe} on the cluster behind
     * {@code sc}, and returns when the run ends (completed or stopped by the guard).
     *
     * @param data     broadcast or sharded text
     * @param recipe   a built-in recipe name ({@link PrecisionRecipe#names()})
     * @param training the run; {@code batch} and {@code accumulation} are per worker (a step
     *                 consumes workers × accumulation micro-batches, and checkpoints record that
     *                 product as the accumulation); {@code seed} seeds the model and the data order
     * @param options  workers, gradient payload, checkpoints, threads, timeouts
     * @param listener live progress on the driver
     * @throws IllegalArgumentException for an unknown recipe, data too small for the sequence
     *                                  length, or a failed preflight check (dynamic allocation,
     *                                  too few task slots, shards not one per worker, checkpoint
     *                                  directory state), each naming what to change
     * @throws RuntimeException          Spark's {@code SparkException} (unchecked, from Scala)
     *                                  when the stage fails for good
     */
    public static SparkTrainingResult fit(JavaSparkContext sc, SparkTrainingData data, LlamaConfig model, String recipe,
                                          TrainingConfig training, SparkTrainingOptions options, SparkTrainingListener listener) {
        Objects.requireNonNull(sc, "sc");
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(training, "training");
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(listener, "listener");
        PrecisionRecipe.byName(recipe);
        if (training.seq() > model.maxSeq()) {
            throw new IllegalArgumentException("seq " + training.seq() + " exceeds the model's maxSeq " + model.maxSeq());
        }
        int vocab = Tokenizer.byName(data.tokenizer()).vocabSize();
        if (vocab > model.vocab()) {
            throw new IllegalArgumentException("the model's vocabulary " + model.vocab() + " is smaller than tokenizer "
                    + data.tokenizer() + "'s " + vocab);
        }
        if (!data.sharded()) {
            SparkTrainingData.dataset(data.name(), data.bytes(), data.tokenizer()).requireWindows(training.seq());
        }
        int workers = options.workers();
        TrainingConfig global = training.withLr(training.peakLr(), Math.multiplyExact(training.accumulation(), workers));
        Preflight.check(sc, data, options);

        byte[] secret = TcpReplicaGroup.newJobSecret();
        Progress progress = new Progress(listener, global.steps(), workers);
        String driverHost = sc.getConf().get("spark.driver.host", "localhost");
        String bindHost = sc.getConf().get("spark.driver.bindAddress", driverHost);
        Broadcast<byte[]> corpus = data.sharded() ? null : sc.broadcast(data.bytes());
        try (ProgressChannel.Server server = new ProgressChannel.Server(bindHost, secret, progress)) {
            JavaRDD<byte[]> input = data.sharded() ? ShardPartitioner.pin(data.shardRdd())
                    : sc.parallelize(Collections.nCopies(workers, new byte[0]), workers);
            ReplicaTask task = new ReplicaTask(model, recipe, global, options, secret, driverHost + ":" + server.port(), corpus, data.name(),
                    data.tokenizer());
            sc.setJobDescription("fp4 data-parallel training: " + recipe + ", " + workers + " workers");
            // The shuffle after the barrier stage makes it a shuffle-map stage: Spark re-runs a failed
            // barrier shuffle-map stage as a whole, where it would abort a failed barrier result stage.
            List<WorkerReport> reports = new ArrayList<>(input.rdd().barrier()
                    .mapPartitions(task, false, ClassTag$.MODULE$.apply(WorkerReport.class)).toJavaRDD().repartition(1).collect());
            reports.sort(Comparator.comparingInt(WorkerReport::rank));
            return progress.result(reports, options, server.rejectedConnections());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the driver's progress channel on " + bindHost, e);
        } finally {
            if (corpus != null) {
                corpus.destroy();
            }
        }
    }

    /** The driver's view of the run: records and times by step, forwarded to the listener. */
    private static final class Progress implements ProgressChannel.Receiver {
        private final SparkTrainingListener listener;
        private final long totalSteps;
        private final int workers;
        private final SortedMap<Long, StepRecord> records = new TreeMap<>();
        private final SortedMap<Long, double[]> compute = new TreeMap<>();
        private final SortedMap<Long, double[]> wait = new TreeMap<>();
        private int attempts;

        Progress(SparkTrainingListener listener, long totalSteps, int workers) {
            this.listener = listener;
            this.totalSteps = totalSteps;
            this.workers = workers;
        }

        @Override
        public synchronized void onAttempt(int attempt, List<String> addresses) {
            attempts = Math.max(attempts, attempt + 1);
            if (attempt > 0) {
                LOG.warn("stage attempt {}: the replicas restarted (at {}) and resume from the newest checkpoint", attempt, addresses);
            }
            listener.onAttempt(attempt, addresses);
        }

        @Override
        public synchronized void onStep(StepRecord record) {
            records.put(record.step(), record);
            listener.onStep(record, totalSteps);
        }

        @Override
        public synchronized void onReplicaTimes(long step, double[] computeSeconds, double[] waitSeconds) {
            compute.put(step, computeSeconds);
            wait.put(step, waitSeconds);
            listener.onReplicaTimes(step, computeSeconds, waitSeconds);
            long every = Math.max(1, totalSteps / 10);
            if (step % every == 0) {
                logStragglers(step, every);
            }
        }

        /** One line over the last {@code span} steps: each rank's mean compute and wait, the slowest rank. */
        private void logStragglers(long step, long span) {
            double[] c = new double[workers];
            double[] w = new double[workers];
            int n = 0;
            for (double[] v : compute.subMap(step - span + 1, step + 1).values()) {
                for (int k = 0; k < workers && k < v.length; k++) {
                    c[k] += v[k];
                }
                n++;
            }
            for (double[] v : wait.subMap(step - span + 1, step + 1).values()) {
                for (int k = 0; k < workers && k < v.length; k++) {
                    w[k] += v[k];
                }
            }
            int slowest = 0;
            StringBuilder cs = new StringBuilder();
            StringBuilder ws = new StringBuilder();
            for (int k = 0; k < workers; k++) {
                if (c[k] > c[slowest]) {
                    slowest = k;
                }
                cs.append(k == 0 ? "" : ", ").append(String.format(java.util.Locale.ROOT, "%.1f", 1e3 * c[k] / Math.max(1, n)));
                ws.append(k == 0 ? "" : ", ").append(String.format(java.util.Locale.ROOT, "%.1f", 1e3 * w[k] / Math.max(1, n)));
            }
            LOG.info("steps {}-{}: compute ms/step by rank [{}], all-reduce wait ms/step [{}]; slowest rank {}", step - span + 1, step, cs, ws,
                    slowest);
        }

        @Override
        public synchronized void onCheckpoint(long step, String path) {
            listener.onCheckpoint(step, Path.of(path));
        }

        synchronized SparkTrainingResult result(List<WorkerReport> reports, SparkTrainingOptions options, int driverRejected) {
            WorkerReport lead = reports.get(0);
            for (StepRecord r : lead.records()) {
                records.put(r.step(), r);
            }
            long bytes = 0;
            int rejected = driverRejected;
            for (WorkerReport w : reports) {
                bytes += w.bytesSent();
                rejected += w.rejectedConnections();
            }
            TrainingResult training = new TrainingResult(List.copyOf(records.values()), lead.stepsCompleted(), lead.status(), lead.message(),
                    lead.lastCheckpoint() == null ? null : Path.of(lead.lastCheckpoint()), lead.seconds(), lead.tokens());
            return new SparkTrainingResult(training, workers, options.gradComm(), Math.max(attempts, lead.attempt() + 1), lead.resumedFrom(),
                    new TreeMap<>(compute), new TreeMap<>(wait), bytes, rejected, lead.finalValidation());
        }
    }
}
