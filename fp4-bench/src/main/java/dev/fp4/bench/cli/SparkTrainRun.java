package dev.fp4.bench.cli;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.spark.SparkTrainer;
import dev.fp4.spark.SparkTrainingData;
import dev.fp4.spark.SparkTrainingListener;
import dev.fp4.spark.SparkTrainingOptions;
import dev.fp4.spark.SparkTrainingResult;
import dev.fp4.spark.comm.GradientCodec;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/** The work of {@link SparkTrainCommand}, with Spark on the class path. */
final class SparkTrainRun {
    private static final Pattern LOCAL_CLUSTER = Pattern.compile("local-cluster\\[\\s*(\\d+)\\s*,\\s*(\\d+)\\s*,\\s*(\\d+)\\s*]");

    private final SparkTrainCommand c;
    private final Cli root;

    SparkTrainRun(SparkTrainCommand c, Cli root) {
        this.c = c;
        this.root = root;
    }

    /** The Spark settings of the run: the command's, then what the replicas need unless set. */
    static SparkConf conf(String master, Map<String, String> settings, int peerTimeoutSeconds, String recipe) {
        SparkConf conf = new SparkConf().setAppName("fp4 spark-train " + recipe);
        if (master != null) {
            conf.setMaster(master);
        }
        settings.forEach(conf::set);
        if (!conf.contains("spark.master")) {
            throw new Cli.UsageException("no Spark master: pass --master (e.g. local[2,2] or spark://host:7077) or run under spark-submit", null);
        }
        conf.setIfMissing("spark.barrier.sync.timeout", peerTimeoutSeconds + "s");
        conf.setIfMissing("spark.ui.showConsoleProgress", "false");
        String jar = ownJar();
        if (jar != null) {
            conf.setIfMissing("spark.executor.extraClassPath", jar);   // executors of a local-cluster or standalone worker on this host
        }
        String vector = "--add-modules=jdk.incubator.vector";
        String opts = conf.get("spark.executor.extraJavaOptions", "");
        if (!opts.contains("jdk.incubator.vector")) {
            conf.set("spark.executor.extraJavaOptions", (opts + " " + vector).trim());
        }
        Matcher m = LOCAL_CLUSTER.matcher(conf.get("spark.master"));
        if (m.matches()) {
            conf.setIfMissing("spark.executor.memory", m.group(3) + "m");  // no more than each worker has
            conf.setIfMissing("spark.executor.cores", m.group(2));
        }
        return conf;
    }

    /** The jar (or classes directory) this command runs from. */
    private static String ownJar() {
        try {
            return Path.of(SparkTrainRun.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (Exception e) {
            return null;
        }
    }

    Integer call() throws IOException {
        RunOptions run = c.run;
        TrainOptions train = c.train;
        String recipe = Runs.recipeName(c.spec, run, train.recipe);
        if (run.dataArgument == null && !"byte".equals(run.tokenizer)) {
            throw new Cli.UsageException("--tokenizer " + run.tokenizer + " needs --data (the built-in corpus is scored per byte)", null);
        }
        LlamaConfig shape = Runs.shape(c.spec, run, root.models, dev.fp4.nn.data.Tokenizer.byName(run.tokenizer));
        int seq = run.seq != null ? run.seq : shape.maxSeq();
        TrainingConfig cfg = Runs.config(run, seq, train.accum, train.moments, train.checkpointEvery);
        Path dir = train.checkpointDir != null ? train.checkpointDir : Path.of("runs", "spark-train", recipe);
        Path csv = c.csv != null ? c.csv : Path.of("runs", "spark-train", recipe + ".csv");
        SparkTrainingOptions options = SparkTrainingOptions.workers(c.workers).withGradComm(GradientCodec.of(c.gradComm))
                .withCheckpoints(dir.toString(), train.keep).withResume(train.resume).withForceResume(train.forceResume).withThreads(run.threads == null ? 0 : run.threads)
                .withFrameBytes(c.frameBytes).withPeerTimeout(Duration.ofSeconds(c.peerTimeout));
        long firstStep = 0;
        if (train.resume && Files.isDirectory(dir)) {
            var latest = new CheckpointDirectory(dir, train.keep).latestValid();
            firstStep = latest.isPresent() ? latest.get().checkpoint().step() : 0;
        }
        SparkConf conf = conf(c.master, c.conf, c.peerTimeout, recipe);
        try (JavaSparkContext sc = new JavaSparkContext(conf)) {
            double entropy = Double.NaN;
            SparkTrainingData data;
            if (run.dataArgument == null) {
                MarkovCorpus corpus = MarkovCorpus.generate(MarkovCorpus.Spec.defaults());
                data = SparkTrainingData.of(corpus.dataset(run.corpusBytes, run.seed).name(), corpus.sample(run.corpusBytes, run.seed));
                entropy = corpus.entropyRatePerByte();
            } else if ("shard".equals(c.dataMode)) {
                data = SparkTrainingData.readShards(sc, run.dataArgument, c.workers).withTokenizer(run.tokenizer);
            } else {
                data = SparkTrainingData.read(sc, run.dataArgument).withTokenizer(run.tokenizer);
            }
            root.notes().printf(Locale.ROOT, "spark-train: %s (%s), recipe %s, %d workers on %s, grad-comm %s, on %s%n",
                    run.config != null ? run.config : "preset " + run.preset, Runs.describe(shape), recipe, c.workers, sc.master(), c.gradComm, data);
            ProgressBar bar = new ProgressBar(root.err, recipe, root.progressBar(), System.console() != null, firstStep, cfg.tokensPerStep() * c.workers);
            SparkTrainingResult r = SparkTrainer.fit(sc, data, shape, recipe, cfg, options, new SparkTrainingListener() {
                @Override
                public void onStep(StepRecord record, long totalSteps) {
                    bar.onStep(record, totalSteps);
                }

                @Override
                public void onAttempt(int attempt, List<String> replicaAddresses) {
                    if (attempt > 0) {
                        root.err.printf(Locale.ROOT, "%nspark-train: stage attempt %d: the replicas restarted and resume from the newest checkpoint%n",
                                attempt);
                    }
                }
            });
            if (r.training().status() != dev.fp4.nn.train.TrainingResult.Status.COMPLETED) {
                bar.finish();
            }
            writeCsv(csv, r);
            TrainCommand.printSummary(root.out, recipe, r.training(), r.finalValidation(), entropy);
            root.out.printf(Locale.ROOT, "%d workers, grad-comm %s: compute %.1f ms/step, all-reduce wait %.1f ms/step (means over ranks), "
                            + "%.2f MB/step sent, %d stage attempt(s); per-step times in %s%n", c.workers, c.gradComm, 1e3 * r.meanComputeSeconds(),
                    1e3 * r.meanWaitSeconds(), r.bytesPerStep() / 1e6, r.attempts(), csv);
            return TrainCommand.exitCode(r.training().status());
        }
    }

    /** step, losses, lr, grad norm, tokens/s, then each rank's compute and all-reduce wait seconds. */
    static void writeCsv(Path csv, SparkTrainingResult r) throws IOException {
        if (csv.getParent() != null) {
            Files.createDirectories(csv.getParent());
        }
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(csv, StandardCharsets.UTF_8))) {
            StringBuilder head = new StringBuilder("step,train_loss,val_loss,lr,grad_norm,tokens_per_s");
            for (int k = 0; k < r.workers(); k++) {
                head.append(",compute_s_rank").append(k);
            }
            for (int k = 0; k < r.workers(); k++) {
                head.append(",wait_s_rank").append(k);
            }
            w.println(head);
            for (StepRecord s : r.training().records()) {
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%d,%s,%s,%s,%s,%.1f", s.step(), s.trainLoss(),
                        s.evaluated() ? Double.toString(s.valLoss()) : "", s.lr(), s.gradNorm(), s.tokensPerSec()));
                appendAll(line, r.computeSeconds().get(s.step()), r.workers());
                appendAll(line, r.waitSeconds().get(s.step()), r.workers());
                w.println(line);
            }
        }
    }

    private static void appendAll(StringBuilder line, double[] v, int n) {
        for (int k = 0; k < n; k++) {
            line.append(',');
            if (v != null && k < v.length) {
                line.append(String.format(Locale.ROOT, "%.6f", v[k]));
            }
        }
    }
}
