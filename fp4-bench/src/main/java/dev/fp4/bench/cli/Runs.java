package dev.fp4.bench.cli;

import dev.fp4.core.gemm.Gemm;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.data.Tokenizer;
import dev.fp4.nn.hf.HfConfig;
import dev.fp4.nn.optim.MomentPrecision;
import dev.fp4.nn.train.TrainingConfig;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/** Turns {@link RunOptions} into a dataset and a training configuration, validating them. */
final class Runs {
    private Runs() {
    }

    /** The data of a run: the dataset and, for the built-in corpus, its entropy rate (else NaN). */
    record Data(TextDataset dataset, double entropyRate, String description) {
    }

    static void validate(CommandSpec spec, RunOptions o, ModelFactory models) {
        CommandLine cl = spec.commandLine();
        positive(cl, "--steps", o.steps);
        positive(cl, "--batch", o.batch);
        positive(cl, "--eval-every", o.evalEvery);
        positive(cl, "--eval-batches", o.evalBatches);
        positive(cl, "--corpus-bytes", o.corpusBytes);
        if (o.seq != null) {
            positive(cl, "--seq", o.seq);
        }
        if (o.threads != null) {
            positive(cl, "--threads", o.threads);
        }
        if (!(o.lr > 0) || !Double.isFinite(o.lr)) {
            throw new CommandLine.ParameterException(cl, "--lr must be a positive number, got " + o.lr);
        }
        if (!models.presets().contains(o.preset)) {
            throw new CommandLine.ParameterException(cl, "unknown preset '" + o.preset + "'; valid presets: "
                    + String.join(", ", models.presets()));
        }
        if (!Tokenizer.NAMES.contains(o.tokenizer)) {
            throw new CommandLine.ParameterException(cl, "unknown tokenizer '" + o.tokenizer + "'; valid tokenizers: "
                    + String.join(", ", Tokenizer.NAMES));
        }
        if (o.config != null && cl.getParseResult().hasMatchedOption("--preset")) {
            throw new CommandLine.ParameterException(cl, "give --preset or --config, not both");
        }
        for (Integer v : new Integer[] {o.dim, o.layers, o.heads, o.kvHeads, o.ffn}) {
            if (v != null) {
                positive(cl, "--dim, --layers, --heads, --kv-heads and --ffn", v);
            }
        }
    }

    /**
     * The model's shape: the preset (or --config), with the vocabulary of the tokenizer and the
     * command line's size overrides ({@code --seq} sets the context length).
     */
    static LlamaConfig shape(CommandSpec spec, RunOptions o, ModelFactory models, Tokenizer tokenizer) {
        LlamaConfig base;
        try {
            base = o.config != null ? HfConfig.read(o.config) : models.preset(o.preset);
        } catch (NoSuchFileException e) {
            throw new Cli.UsageException("--config: file not found: " + o.config, e);
        } catch (IOException e) {
            throw new Cli.UsageException("--config: " + e.getMessage(), e);
        }
        try {
            return base.with(tokenizer.vocabSize(), o.dim, o.layers, o.heads, o.kvHeads, o.ffn, o.seq);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "invalid model shape: " + e.getMessage());
        }
    }

    /** Describes a shape in one line. */
    static String describe(LlamaConfig c) {
        return String.format(java.util.Locale.ROOT, "dim %d, %d layers, %d heads (%d kv), ffn %d, context %d, vocabulary %d: %,d parameters",
                c.dim(), c.layers(), c.heads(), c.kvHeads(), c.ffnDim(), c.maxSeq(), c.vocab(), c.parameterCount());
    }

    static void positive(CommandLine cl, String name, long v) {
        if (v <= 0) {
            throw new CommandLine.ParameterException(cl, name + " must be positive, got " + v);
        }
    }

    static void checkRecipe(CommandSpec spec, ModelFactory models, String recipe) {
        if (!models.recipes().contains(recipe)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "unknown recipe '" + recipe + "'; valid recipes: "
                    + String.join(", ", models.recipes()));
        }
    }

    /**
     * The recipe name the run trains: {@code recipe}, with {@link PrecisionRecipe#LATE_BF16} and the
     * fraction when --late-bf16 is given.
     */
    static String recipeName(CommandSpec spec, RunOptions o, String recipe) {
        if (o.lateBf16 == null) {
            return recipe;
        }
        if (!(o.lateBf16 > 0 && o.lateBf16 < 1)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--late-bf16 must be in (0, 1), got " + o.lateBf16);
        }
        return recipe + PrecisionRecipe.LATE_BF16 + o.lateBf16;
    }

    /** Sets the size of the pool shared by the GeMMs and the layers' parallel loops. */
    static void applyThreads(RunOptions o) {
        if (o.threads != null) {
            Gemm.setThreads(o.threads);
        }
    }

    static Data data(RunOptions o, int seq) {
        TextDataset d;
        double h = Double.NaN;
        Tokenizer tokenizer = Tokenizer.byName(o.tokenizer);
        if (o.data == null && !o.tokenizer.equals("byte")) {
            throw new Cli.UsageException("--tokenizer " + o.tokenizer + " needs --data FILE (the built-in corpus is scored per byte)", null);
        }
        if (o.data != null) {
            try {
                d = TextDataset.fromFile(o.data, tokenizer);
            } catch (NoSuchFileException e) {
                throw new Cli.UsageException("data file not found: " + o.data, e);
            } catch (IOException e) {
                throw new Cli.UsageException(e.getMessage(), e);
            }
        } else {
            MarkovCorpus c = MarkovCorpus.generate(MarkovCorpus.Spec.defaults());
            d = c.dataset(o.corpusBytes, o.seed);
            h = c.entropyRatePerByte();
        }
        try {
            d.requireWindows(seq);
        } catch (IllegalArgumentException e) {
            throw new Cli.UsageException(e.getMessage(), e);
        }
        return new Data(d, h, d.name());
    }


    static TrainingConfig config(RunOptions o, int seq, int accumulation, MomentPrecision moments, int checkpointEvery) {
        TrainingConfig d = TrainingConfig.defaults();
        return new TrainingConfig(o.steps, o.batch, seq, accumulation, o.lr, d.warmupFraction(), d.floorFraction(), d.weightDecay(),
                d.clipNorm(), moments, o.evalEvery, o.evalBatches, checkpointEvery, o.seed, d.divergenceFactor());
    }
}
