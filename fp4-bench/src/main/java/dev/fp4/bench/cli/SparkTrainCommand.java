package dev.fp4.bench.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fp4 spark-train}: {@code fp4 train} as data-parallel replicas on a Spark cluster
 * ({@code dev.fp4.spark.SparkTrainer}). This class names no Spark type, so that {@code fp4.jar}
 * (which does not carry Spark) can list and reject the command cleanly; {@link SparkTrainRun}
 * does the work.
 */
@Command(name = "spark-train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Trains one model under one recipe as --workers data-parallel replicas in one Spark barrier stage: each "
                + "replica runs one micro-batch of every step and the replicas sum their gradients in rank order, so N workers "
                + "of --batch b give the losses of 'fp4 train --batch b --accum N' bit for bit (with --grad-comm fp32). "
                + "Rank 0 writes checkpoints that either command resumes; a failed task makes Spark re-run the stage, which "
                + "resumes from the newest checkpoint. --data may be a file, a directory or a glob, read through Spark. "
                + "Needs Apache Spark on the class path: ./fp4 adds it; or use spark-submit (docs/distributed.md)."})
final class SparkTrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master: local[N,F], local-cluster[N,C,MB], spark://HOST:PORT, yarn. "
            + "Default: spark.master as spark-submit sets it.")
    String master;

    @Option(names = "--workers", paramLabel = "N", description = "Replicas (barrier tasks). Default: ${DEFAULT-VALUE}.")
    int workers = 2;

    @Option(names = "--grad-comm", paramLabel = "F", description = "Gradient payload on the wire: fp32, bf16 or fp8 (E4M3 with a power-of-two "
            + "scale per message); sums are FP32. Default: ${DEFAULT-VALUE}.")
    String gradComm = "fp32";

    @Option(names = "--data-mode", paramLabel = "M", description = "broadcast (one corpus, every worker samples the global stream) or shard "
            + "(each input partition is one worker's corpus). Default: ${DEFAULT-VALUE}.")
    String dataMode = "broadcast";

    @Option(names = "--peer-timeout", paramLabel = "S", description = "Longest wait for a peer, in seconds (also spark.barrier.sync.timeout "
            + "unless set). Default: ${DEFAULT-VALUE}.")
    int peerTimeout = 600;

    @Option(names = "--frame-bytes", paramLabel = "N", description = "Largest frame of the all-reduce. Default: ${DEFAULT-VALUE}.")
    int frameBytes = 1 << 20;

    @Option(names = "--csv", paramLabel = "FILE", description = "Per-step CSV with each rank's compute and all-reduce wait seconds. "
            + "Default: runs/spark-train/RECIPE.csv.")
    Path csv;

    @Option(names = "--conf", paramLabel = "KEY=VALUE", description = "A Spark setting (repeatable).")
    Map<String, String> conf = new LinkedHashMap<>();

    @Mixin
    RunOptions run = new RunOptions();

    @Mixin
    TrainOptions train = new TrainOptions();

    private final Cli root;

    SparkTrainCommand(Cli root) {
        this.root = root;
    }

    @Override
    public Integer call() throws Exception {
        Runs.validate(spec, run, root.models);
        Runs.checkRecipe(spec, root.models, train.recipe);
        train.validate(spec);
        Runs.positive(spec.commandLine(), "--workers", workers);
        Runs.positive(spec.commandLine(), "--peer-timeout", peerTimeout);
        if (frameBytes < 64) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--frame-bytes must be at least 64, got " + frameBytes);
        }
        if (!gradComm.matches("fp32|bf16|fp8")) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--grad-comm must be fp32, bf16 or fp8, got '" + gradComm + "'");
        }
        if (!dataMode.matches("broadcast|shard")) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--data-mode must be broadcast or shard, got '" + dataMode + "'");
        }
        if ("shard".equals(dataMode) && run.data == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--data-mode shard needs --data");
        }
        try {
            Class.forName("org.apache.spark.SparkContext", false, SparkTrainCommand.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new Cli.UsageException("spark-train needs Apache Spark 4.2 on the class path: run it through ./fp4, which adds it, "
                    + "or with spark-submit (docs/distributed.md)", e);
        }
        return new SparkTrainRun(this, root).call();
    }
}
