package dev.fp4.bench.cli;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.checkpoint.CheckpointFormatException;
import dev.fp4.nn.data.Tokenizer;
import dev.fp4.nn.hf.HfLlama;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.TrainableModel;
import dev.fp4.nn.train.WindowLosses;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.nn.train.TrainingResult;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code fp4 train}: one model, one recipe, with checkpoints, resume and a progress bar. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Trains one model under one precision recipe, showing step, loss, tokens/s and ETA on stderr. "
                + "Checkpoints go to --checkpoint-dir every --checkpoint-every steps, at the end, and when the run is stopped "
                + "with Ctrl-C; --resume continues from the newest valid checkpoint there exactly as if never stopped."})
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    RunOptions run = new RunOptions();

    @Mixin
    TrainOptions train = new TrainOptions();

    @Option(names = "--init-from", paramLabel = "DIR", description = {"Start from the weights and shape of a Hugging Face LlamaForCausalLM directory "
            + "(config.json, model.safetensors; e.g. from 'fp4 export --format hf'): continued pre-training or fine-tuning. "
            + "--seq then sets only the training sequence length (at most the model's context)."})
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
        String recipe = Runs.recipeName(spec, run, train.recipe);
        train.validate(spec);
        Runs.applyThreads(run);
        HfLlama.Model init = initFrom == null ? null : initialModel();
        LlamaConfig shape = init != null ? init.config() : Runs.shape(spec, run, models, Tokenizer.byName(run.tokenizer));
        int seq = run.seq != null ? run.seq : shape.maxSeq();
        if (seq > shape.maxSeq()) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--seq " + seq + " exceeds the model's context of " + shape.maxSeq());
        }
        Runs.Data data = Runs.data(run, seq);
        TrainingConfig cfg = Runs.config(run, seq, train.accum, train.moments, train.checkpointEvery);
        Path dir = train.checkpointDir != null ? train.checkpointDir : Path.of("runs", "train", train.recipe);
        CheckpointDirectory ckpts = new CheckpointDirectory(dir, train.keep);
        TrainableModel model = models.create(shape, recipe, run.seed);
        if (init != null) {
            if (!(model instanceof LlamaTrainable lt)) {
                throw new Cli.UsageException("--init-from needs a LLaMA model", null);
            }
            init.restore(lt.model().parameters());
            root.notes().println("initialised from " + initFrom);
        }
        Trainer trainer = new Trainer(model, data.dataset(), cfg, ckpts);
        if (train.resume) {
            if (!trainer.resumeLatest(train.forceResume)) {
                throw new Cli.UsageException("--resume: no valid checkpoint in " + dir, null);
            }
            root.notes().println("resumed from step " + trainer.step() + " (" + dir + ")");
        } else if (!ckpts.list().isEmpty()) {
            throw new Cli.UsageException(dir + " already holds checkpoints: pass --resume to continue, or another --checkpoint-dir", null);
        }
        root.notes().printf(Locale.ROOT, "training %s (%s), recipe %s, on %s%n", init != null ? initFrom : run.config != null ? run.config
                : "preset " + run.preset, Runs.describe(shape), recipe, data.description());
        CountDownLatch done = new CountDownLatch(1);
        Runnable stop = stopAndAwait(trainer, done, root.err);
        Thread hook = new Thread(() -> {
            Cli.markShutdown();
            stop.run();
        }, "fp4-train-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        ProgressBar bar = new ProgressBar(root.err, recipe, root.progressBar(), System.console() != null, trainer.step(), cfg.tokensPerStep());
        // The latch is released only after the summary is printed: on Ctrl-C the JVM halts as soon
        // as the hook returns, which used to race with (and usually drop) the summary line.
        try {
            TrainingResult r = trainer.run(bar);
            if (r.status() != TrainingResult.Status.COMPLETED) {
                bar.finish();
            }
            printSummary(root.out, recipe, r, trainer.finalValidation(), data.entropyRate());
            return exitCode(r.status());
        } finally {
            done.countDown();
            if (!Cli.shutdownInProgress()) {
                Runtime.getRuntime().removeShutdownHook(hook);
            }
        }
    }

    /** The --init-from directory, with its tokenizer taking the place of the default one. */
    private HfLlama.Model initialModel() throws java.io.IOException {
        CommandLine cl = spec.commandLine();
        for (String o : new String[] {"--preset", "--config", "--dim", "--layers", "--heads", "--kv-heads", "--ffn"}) {
            if (cl.getParseResult().hasMatchedOption(o)) {
                throw new CommandLine.ParameterException(cl, "--init-from takes the model's shape from " + initFrom + "/config.json; drop " + o);
            }
        }
        HfLlama.Model m;
        try {
            m = HfLlama.load(initFrom);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new Cli.UsageException("--init-from: file not found: " + e.getFile(), e);
        } catch (IllegalArgumentException | CheckpointFormatException e) {
            throw new Cli.UsageException("--init-from: " + e.getMessage(), e);
        }
        if (!cl.getParseResult().hasMatchedOption("--tokenizer") && m.tokenizer() != null) {
            run.tokenizer = m.tokenizer();
        }
        Tokenizer t = Tokenizer.byName(run.tokenizer);
        if (m.config().vocab() != t.vocabSize()) {
            throw new Cli.UsageException("--init-from: the model's vocabulary is " + m.config().vocab() + " tokens, the " + t.name()
                    + " tokenizer has " + t.vocabSize() + " (choose it with --tokenizer)", null);
        }
        return m;
    }

    /**
     * The run's last lines on stdout: "RECIPE: MESSAGE; final train loss X, validation loss Y, N
     * tokens/s, checkpoint P", the loss over the whole validation split when the run completed, and
     * the excess over the source's entropy rate when it is known.
     */
    static void printSummary(PrintStream out, String recipe, TrainingResult r, WindowLosses full, double entropyRate) {
        var last = r.lastEvaluated();
        out.printf(Locale.ROOT, "%s: %s; final train loss %s, validation loss %s, %.0f tokens/s, checkpoint %s%n", recipe, r.message(),
                r.records().isEmpty() ? "n/a" : String.format(Locale.ROOT, "%.4f", r.records().get(r.records().size() - 1).trainLoss()),
                last == null ? "n/a" : String.format(Locale.ROOT, "%.4f", last.valLoss()), r.tokensPerSecond(), r.lastCheckpoint());
        if (full != null) {
            out.printf(Locale.ROOT, "validation loss over the whole split: %.4f nats per token (%,d windows, %,d positions)%n", full.mean(),
                    full.windows(), full.positions());
        }
        double reported = full != null ? full.mean() : last != null ? last.valLoss() : Double.NaN;
        if (Double.isFinite(entropyRate) && Double.isFinite(reported)) {
            out.printf(Locale.ROOT, "source entropy rate %.4f nats/byte: excess %.4f%n", entropyRate, reported - entropyRate);
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
