package dev.fp4.spark;

import dev.fp4.core.gemm.Gemm;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.nn.train.TrainingListener;
import dev.fp4.nn.train.TrainingResult;
import dev.fp4.spark.comm.ProgressChannel;
import dev.fp4.spark.comm.TcpReplicaGroup;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.broadcast.Broadcast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

/**
 * The body of one barrier task: one model replica. It builds the model (the same seed on every
 * replica, so the same weights), connects to the other replicas, resumes from the newest
 * checkpoint when asked to or when Spark re-runs the stage, trains with a {@link Trainer} over a
 * {@link TcpReplicaGroup}, and returns a {@link WorkerReport}. Rank 0 alone writes checkpoints
 * and reports progress to the driver.
 */
final class ReplicaTask extends AbstractFunction1<Iterator<byte[]>, Iterator<WorkerReport>> implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ReplicaTask.class);

    private final LlamaConfig model;
    private final String recipe;
    private final TrainingConfig training;
    private final SparkTrainingOptions options;
    private final byte[] secret;
    private final String driver;
    private final Broadcast<byte[]> corpus;
    private final String dataName;
    private final String tokenizer;

    /**
     * @param training the run's configuration, accumulation counting every replica's micro-batches
     * @param driver   the driver's progress address "host:port", or null
     * @param corpus   the broadcast corpus, or null in shard mode
     * @param tokenizer the tokenizer's name
     */
    ReplicaTask(LlamaConfig model, String recipe, TrainingConfig training, SparkTrainingOptions options, byte[] secret, String driver,
                Broadcast<byte[]> corpus, String dataName, String tokenizer) {
        this.model = model;
        this.recipe = recipe;
        this.training = training;
        this.options = options;
        this.secret = secret.clone();
        this.driver = driver;
        this.corpus = corpus;
        this.dataName = dataName;
        this.tokenizer = tokenizer;
    }

    @Override
    public Iterator<WorkerReport> apply(Iterator<byte[]> input) {
        BarrierTaskContext ctx = BarrierTaskContext.get();
        try {
            return CollectionConverters.asScala(List.of(run(ctx, input)).iterator());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private WorkerReport run(BarrierTaskContext ctx, Iterator<byte[]> input) throws IOException {
        int rank = ctx.partitionId();
        int size = ctx.getTaskInfos().length;
        int attempt = ctx.stageAttemptNumber();
        if (options.threads() > 0) {
            Gemm.setThreads(options.threads());
        }
        TextDataset data = corpus != null ? SparkTrainingData.dataset(dataName, corpus.value(), tokenizer)
                : SparkTrainingData.dataset(dataName + ", shard " + rank + " of " + size, concat(input, rank), tokenizer);
        LlamaTrainable replica = new LlamaTrainable(new LlamaModel(model, PrecisionRecipe.byName(recipe), training.seed()));
        TcpReplicaGroup.Settings settings = new TcpReplicaGroup.Settings(options.gradComm(), options.frameBytes(), options.peerTimeout());
        String host = hostOf(ctx.getTaskInfos()[rank].address());
        try (TcpReplicaGroup group = TcpReplicaGroup.open(rank, size, attempt, secret, replica.parameters(), settings, host,
                ctx::allGather);
             ProgressChannel.Client progress = rank == 0 && driver != null
                     ? new ProgressChannel.Client(driver, secret, attempt, options.peerTimeout()) : null) {
            CheckpointDirectory checkpoints = rank == 0 && options.checkpointDir() != null
                    ? new CheckpointDirectory(Path.of(options.checkpointDir()), options.keep()) : null;
            Trainer trainer = new Trainer(replica, data, training, checkpoints, group);
            long resumedFrom = 0;
            if (options.resume() || attempt > 0) {
                // rank 0 picks the checkpoint, every replica loads that same file
                String chosen = checkpoints == null ? "" : checkpoints.latestValid().map(l -> l.path().toString()).orElse("");
                String path = ctx.allGather(chosen)[0];
                if (!path.isEmpty()) {
                    trainer.resume(Checkpoint.read(Path.of(path)), options.forceResume() && attempt == 0);
                    resumedFrom = trainer.step();
                }
                if (rank == 0) {
                    LOG.info("attempt {}: {}", attempt, path.isEmpty() ? "no checkpoint, starting at step 0" : "resumed from " + path);
                }
            }
            if (progress != null) {
                progress.attempt(attempt, group.addresses());
            }
            TrainingResult r = trainer.run(listener(rank, attempt, progress));
            return new WorkerReport(rank, attempt, r.status(), r.message(), r.stepsCompleted(),
                    r.lastCheckpoint() == null ? null : r.lastCheckpoint().toString(), rank == 0 ? r.records() : List.of(), resumedFrom,
                    r.seconds(), r.tokens(), group.bytesSent(), group.bytesReceived(), group.rejectedConnections(),
                    rank == 0 ? trainer.finalValidation() : null);
        }
    }

    private TrainingListener listener(int rank, int attempt, ProgressChannel.Client progress) {
        SparkTrainingOptions.FaultInjection fault = attempt == 0 ? options.fault() : null;
        return new TrainingListener() {
            @Override
            public void onStep(StepRecord record, long totalSteps) {
                if (progress != null) {
                    progress.step(record);
                }
                if (fault != null && fault.rank() == rank && fault.step() == record.step()) {
                    throw new IllegalStateException("injected failure of rank " + rank + " after step " + record.step()
                            + " (first attempt)");
                }
            }

            @Override
            public void onReplicaTimes(long step, double[] computeSeconds, double[] waitSeconds) {
                if (progress != null) {
                    progress.times(step, computeSeconds, waitSeconds);
                }
            }

            @Override
            public void onCheckpoint(long step, Path file) {
                if (progress != null) {
                    progress.checkpoint(step, file.toString());
                }
            }
        };
    }

    private static byte[] concat(Iterator<byte[]> input, int rank) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        while (input.hasNext()) {
            byte[] b = input.next();
            if ((long) all.size() + b.length > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("shard " + rank + " holds more than 2 GiB: use more workers or smaller files");
            }
            all.writeBytes(b);
        }
        return all.toByteArray();
    }

    /** The host part of Spark's "host:port" task address. */
    static String hostOf(String address) {
        int colon = address.lastIndexOf(':');
        return colon > 0 ? address.substring(0, colon) : address;
    }
}
