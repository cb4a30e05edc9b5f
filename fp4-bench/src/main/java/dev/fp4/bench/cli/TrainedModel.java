package dev.fp4.bench.cli;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.data.Tokenizer;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A checkpoint of {@code fp4 train} as a model: the file given, or the newest valid checkpoint of a
 * directory; its shape, recipe and tokenizer come from the checkpoint.
 *
 * @param path       the checkpoint file
 * @param checkpoint its contents
 */
record TrainedModel(Path path, Checkpoint checkpoint) {
    /**
     * Loads PATH (a file or a directory). A missing path or a directory without a valid checkpoint is
     * a usage error; an unreadable or corrupt file fails the run (exit 1) with the reader's message.
     */
    static TrainedModel load(Path path) throws IOException {
        try {
            Path file = path;
            Checkpoint c;
            if (Files.isDirectory(path)) {
                var latest = new CheckpointDirectory(path, 1).latestValid();
                if (latest.isEmpty()) {
                    throw new Cli.UsageException("no valid checkpoint (ckpt-*.safetensors) in " + path, null);
                }
                file = latest.get().path();
                c = latest.get().checkpoint();
            } else {
                c = Checkpoint.read(path);
            }
            return new TrainedModel(file, c);
        } catch (NoSuchFileException e) {
            throw new Cli.UsageException("checkpoint not found: " + path, e);
        }
    }

    /** The model's shape; a usage error for a checkpoint of another kind of model. */
    LlamaConfig config() {
        try {
            return LlamaConfig.fromMap(checkpoint.config());
        } catch (IllegalArgumentException e) {
            throw new Cli.UsageException(path + ": " + e.getMessage(), e);
        }
    }

    /** The tokenizer it was trained with (byte for checkpoints that name none). */
    Tokenizer tokenizer() {
        try {
            return Tokenizer.byName(checkpoint.extra().getOrDefault("tokenizer", "byte"));
        } catch (IllegalArgumentException e) {
            throw new Cli.UsageException(path + ": " + e.getMessage(), e);
        }
    }

    /**
     * The model under a recipe (null: the checkpoint's), with the checkpoint's parameters and the
     * step it stopped at (so a target-precision schedule is where training left it).
     */
    LlamaModel model(String recipe) {
        LlamaModel m = new LlamaModel(config(), PrecisionRecipe.byName(recipe != null ? recipe : checkpoint.recipe()), 0);
        checkpoint.restoreParameters(m.parameters());
        long total = Long.parseLong(checkpoint.config().getOrDefault("train.steps", "0"));
        if (total > 0) {
            m.setStep(Math.min(checkpoint.step(), total), total);
        }
        return m;
    }

    /** "ckpt-…safetensors (step N, recipe R, tokenizer T)". */
    String describe() {
        return String.format(java.util.Locale.ROOT, "%s (step %d, recipe %s, %s tokenizer)", path, checkpoint.step(), checkpoint.recipe(),
                tokenizer().name());
    }
}
