package dev.fp4.bench.cli;

import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.nn.train.TrainingResult;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code fp4 train}: one model, one recipe, with checkpoints, resume and a progress bar. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Trains one model under one precision recipe, showing step, loss, tokens/s and ETA on stderr.",
                "Checkpoints go to --checkpoint-dir every --checkpoint-every steps, at the end, and when the run is stopped",
                "with Ctrl-C; --resume continues from the newest valid checkpoint there exactly as if never stopped."})
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    RunOptions run = new RunOptions();

    @Mixin
    TrainOptions train = new TrainOptions();

    @picocli.CommandLine.Option(names = "--init-from", paramLabel = "DIR", description = "Start from a Hugging Face LLaMA directory "
            + "(config.json and model.safetensors, e.g. from 'fp4 export --format hf'): its shape replaces --preset, its weights "
            + "the random initialisation (continued pre-training or fine-tuning).")
    Path initFrom;

    private final Cli root;

    TrainCommand(Cli root) {
        this.root = root;
    }

    @Override
    public Integer call() throws Exception {
        ModelFactory models = root.models;
        Runs.validate(spec, run, models);
        Runs.checkRecipe(spec, models, train.recipe);
        train.validate(spec);
        Runs.applyThreads(run);
        dev.fp4.nn.train.TrainableModel model = initFrom != null
                ? new dev.fp4.nn.train.LlamaTrainable(dev.fp4.nn.checkpoint.HuggingFaceLlama.load(initFrom,
                        dev.fp4.nn.recipe.PrecisionRecipe.byName(train.recipe)))
                : models.create(run.preset, train.recipe, run.seed);
        int seq = initFrom == null ? Runs.seq(run, models)
                : run.seq != null ? run.seq : ((dev.fp4.nn.train.LlamaTrainable) model).model().config().maxSeq();
        Runs.Data data = Runs.data(run, seq);
        TrainingConfig cfg = Runs.config(run, seq, train.accum, train.moments, train.checkpointEvery);
        Path dir = train.checkpointDir != null ? train.checkpointDir : Path.of("runs", "train", train.recipe);
        CheckpointDirectory ckpts = new CheckpointDirectory(dir, train.keep);
        Trainer trainer = new Trainer(model, data.dataset(), cfg, ckpts);
        if (train.resume) {
            if (!trainer.resumeLatest(train.forceResume)) {
                throw new Cli.UsageException("--resume: no valid checkpoint in " + dir, null);
            }
            root.err.println("resumed from step " + trainer.step() + " (" + dir + ")");
        } else if (!ckpts.list().isEmpty()) {
            throw new Cli.UsageException(dir + " already holds checkpoints: pass --resume to continue, or another --checkpoint-dir", null);
        }
        root.err.printf(Locale.ROOT, "training %s (%,d parameters), recipe %s, on %s%n",
                initFrom != null ? initFrom.toString() : "preset " + run.preset,
                model.parameters().stream().mapToLong(dev.fp4.nn.Parameter::size).sum(), train.recipe, data.description());
        CountDownLatch done = new CountDownLatch(1);
        Runnable stop = stopAndAwait(trainer, done, root.err);
        Thread hook = new Thread(() -> {
            Cli.markShutdown();
            stop.run();
        }, "fp4-train-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        ProgressBar bar = new ProgressBar(root.err, train.recipe, System.console() != null, trainer.step(), cfg.tokensPerStep());
        // The latch is released only after the summary is printed: on Ctrl-C the JVM halts as soon
        // as the hook returns, which used to race with (and usually drop) the summary line.
        try {
            TrainingResult r = trainer.run(bar);
            if (r.status() != TrainingResult.Status.COMPLETED) {
                bar.finish();
            }
            printSummary(root.out, train.recipe, r, data.entropyRate());
            return exitCode(r.status());
        } finally {
            done.countDown();
            if (!Cli.shutdownInProgress()) {
                Runtime.getRuntime().removeShutdownHook(hook);
            }
        }
    }

    /**
     * The run's last lines on stdout: "RECIPE: MESSAGE; final train loss X, validation loss Y, N
     * tokens/s, checkpoint P", and the excess over the source's entropy rate when it is known.
     */
    static void printSummary(PrintStream out, String recipe, TrainingResult r, double entropyRate) {
        var last = r.lastEvaluated();
        out.printf(Locale.ROOT, "%s: %s; final train loss %s, validation loss %s, %.0f tokens/s, checkpoint %s%n", recipe, r.message(),
                r.records().isEmpty() ? "n/a" : String.format(Locale.ROOT, "%.4f", r.records().get(r.records().size() - 1).trainLoss()),
                last == null ? "n/a" : String.format(Locale.ROOT, "%.4f", last.valLoss()), r.tokensPerSecond(), r.lastCheckpoint());
        if (Double.isFinite(entropyRate) && last != null) {
            out.printf(Locale.ROOT, "source entropy rate %.4f nats/byte: excess %.4f%n", entropyRate, last.valLoss() - entropyRate);
        }
        out.flush();
    }

    /** 0 for a completed or interrupted run, {@link Cli#FAILED} when the guard stopped it. */
    static int exitCode(TrainingResult.Status status) {
        return switch (status) {
            case COMPLETED, INTERRUPTED -> 0;
            case NON_FINITE, DIVERGED, FAILED -> Cli.FAILED;
        };
    }

    /**
     * The work of the Ctrl-C (SIGINT/SIGTERM) shutdown hook: asks the trainer to stop, which makes
     * {@link Trainer#run} finish the current step, write a checkpoint and return, and then blocks
     * until {@code done} is counted down after run() returned and the summary was printed (at most
     * 5 minutes), because the JVM
     * halts as soon as every shutdown hook has returned. Package-private so tests can run exactly
     * what the hook runs.
     */
    static Runnable stopAndAwait(Trainer trainer, CountDownLatch done, PrintStream err) {
        return () -> {
            err.println();
            err.println("fp4 train: stopping: finishing the current step and writing a checkpoint ...");
            trainer.requestStop();
            try {
                if (!done.await(5, TimeUnit.MINUTES)) {
                    err.println("fp4 train: the current step did not finish within 5 minutes; exiting without a new checkpoint");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }
}
