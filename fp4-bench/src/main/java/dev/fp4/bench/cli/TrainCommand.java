package dev.fp4.bench.cli;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.checkpoint.CheckpointFormatException;
import dev.fp4.nn.data.Tokenizer;
import dev.fp4.nn.hf.HfLlama;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.TrainableModel;
import dev.fp4.nn.train.WindowLosses;
import dev.fp4.nn.optim.MomentPrecision;
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
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
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

    @Option(names = "--recipe", paramLabel = "NAME", description = "Precision recipe. Default: ${DEFAULT-VALUE}.")
    String recipe = "fp4-dge-occ";

    @Option(names = "--moments", paramLabel = "P", description = "Optimizer moment storage (${COMPLETION-CANDIDATES}). Default: ${DEFAULT-VALUE}.")
    MomentPrecision moments = MomentPrecision.FP32;

    @Option(names = "--accum", paramLabel = "N", description = "Micro-batches per optimizer step. Default: ${DEFAULT-VALUE}.")
    int accum = 1;

    @Option(names = "--checkpoint-dir", paramLabel = "DIR", description = "Checkpoint directory. Default: runs/train/RECIPE.")
    Path checkpointDir;

    @Option(names = "--checkpoint-every", paramLabel = "N", description = "Steps between checkpoints (0: only at the end and on Ctrl-C). Default: ${DEFAULT-VALUE}.")
    int checkpointEvery = 100;

    @Option(names = "--keep", paramLabel = "N", description = "Checkpoints kept. Default: ${DEFAULT-VALUE}.")
    int keep = 3;

    @Option(names = "--resume", description = "Continue from the newest valid checkpoint in --checkpoint-dir.")
    boolean resume;

    @Option(names = "--init-from", paramLabel = "DIR", description = {"Start from the weights and shape of a Hugging Face LlamaForCausalLM directory",
            "(config.json, model.safetensors; e.g. from 'fp4 export --format hf'): continued pre-training or fine-tuning.",
            "--seq then sets only the training sequence length (at most the model's context)."})
    Path initFrom;

    private final Cli root;

    TrainCommand(Cli root) {
        this.root = root;
    }

    @Override
    public Integer call() throws Exception {
        ModelFactory models = root.models;
        Runs.validate(spec, run, models);
        Runs.checkRecipe(spec, models, recipe);
        Runs.positive(spec.commandLine(), "--accum", accum);
        Runs.positive(spec.commandLine(), "--keep", keep);
        if (checkpointEvery < 0) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--checkpoint-every must be >= 0, got " + checkpointEvery);
        }
        Runs.applyThreads(run);
        HfLlama.Model init = initFrom == null ? null : initialModel();
        LlamaConfig shape = init != null ? init.config() : Runs.shape(spec, run, models, Tokenizer.byName(run.tokenizer));
        int seq = run.seq != null ? run.seq : shape.maxSeq();
        if (seq > shape.maxSeq()) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--seq " + seq + " exceeds the model's context of " + shape.maxSeq());
        }
        Runs.Data data = Runs.data(run, seq);
        TrainingConfig cfg = Runs.config(run, seq, accum, moments, checkpointEvery);
        Path dir = checkpointDir != null ? checkpointDir : Path.of("runs", "train", recipe);
        CheckpointDirectory ckpts = new CheckpointDirectory(dir, keep);
        TrainableModel model = models.create(shape, recipe, run.seed);
        if (init != null) {
            if (!(model instanceof LlamaTrainable lt)) {
                throw new Cli.UsageException("--init-from needs a LLaMA model", null);
            }
            init.restore(lt.model().parameters());
            root.err.println("initialised from " + initFrom);
        }
        Trainer trainer = new Trainer(model, data.dataset(), cfg, ckpts);
        if (resume) {
            if (!trainer.resumeLatest()) {
                throw new Cli.UsageException("--resume: no valid checkpoint in " + dir, null);
            }
            root.err.println("resumed from step " + trainer.step() + " (" + dir + ")");
        } else if (!ckpts.list().isEmpty()) {
            throw new Cli.UsageException(dir + " already holds checkpoints: pass --resume to continue, or another --checkpoint-dir", null);
        }
        root.err.printf(Locale.ROOT, "training %s (%s), recipe %s, on %s%n", init != null ? initFrom : run.config != null ? run.config
                : "preset " + run.preset, Runs.describe(shape), recipe, data.description());
        CountDownLatch done = new CountDownLatch(1);
        Runnable stop = stopAndAwait(trainer, done, root.err);
        Thread hook = new Thread(() -> {
            Cli.markShutdown();
            stop.run();
        }, "fp4-train-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        ProgressBar bar = new ProgressBar(root.err, recipe, System.console() != null, trainer.step(), cfg.tokensPerStep());
        // The latch is released only after the summary is printed: on Ctrl-C the JVM halts as soon
        // as the hook returns, which used to race with (and usually drop) the summary line.
        try {
            TrainingResult r = trainer.run(bar);
            if (r.status() != TrainingResult.Status.COMPLETED) {
                bar.finish();
            }
            var last = r.lastEvaluated();
            root.out.printf(Locale.ROOT, "%s: %s; final train loss %s, validation loss %s, %.0f tokens/s, checkpoint %s%n", recipe, r.message(),
                    r.records().isEmpty() ? "n/a" : String.format(Locale.ROOT, "%.4f", r.records().get(r.records().size() - 1).trainLoss()),
                    last == null ? "n/a" : String.format(Locale.ROOT, "%.4f", last.valLoss()), r.tokensPerSecond(), r.lastCheckpoint());
            WindowLosses full = trainer.finalValidation();
            if (full != null) {
                root.out.printf(Locale.ROOT, "validation loss over the whole split: %.4f nats per token (%,d windows, %,d positions)%n", full.mean(),
                        full.windows(), full.positions());
            }
            double reported = full != null ? full.mean() : last != null ? last.valLoss() : Double.NaN;
            if (Double.isFinite(data.entropyRate()) && Double.isFinite(reported)) {
                root.out.printf(Locale.ROOT, "source entropy rate %.4f nats/byte: excess %.4f%n", data.entropyRate(), reported - data.entropyRate());
            }
            root.out.flush();
            return switch (r.status()) {
                case COMPLETED, INTERRUPTED -> 0;
                case NON_FINITE, DIVERGED -> Cli.FAILED;
            };
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
