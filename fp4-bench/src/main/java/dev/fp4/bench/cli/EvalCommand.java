package dev.fp4.bench.cli;

import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.data.Split;
import dev.fp4.nn.train.Evaluation;
import dev.fp4.nn.train.LlamaTrainable;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fp4 eval}: the mean loss of a checkpoint over every position of a file. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The mean cross-entropy of a trained model over every position of a text file (byte tokens): all",
                "non-overlapping windows of --seq predictions, the last partial window included. Prints the token count,",
                "bits per byte and perplexity, and last the line 'loss: X' (nats per token)."})
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--checkpoint", paramLabel = "PATH", required = true,
            description = "A checkpoint file, or a directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--data", paramLabel = "FILE", required = true, description = "The text to evaluate on (all of it).")
    Path data;

    @Option(names = "--seq", paramLabel = "N", description = "Predictions per window. Default: the model's context length.")
    Integer seq;

    @Option(names = "--batch", paramLabel = "N", description = "Windows per forward pass. Default: ${DEFAULT-VALUE}.")
    int batch = 8;

    @Option(names = "--recipe", paramLabel = "NAME", description = "Precision of the forward pass. Default: the checkpoint's recipe.")
    String recipe;

    private final Cli root;

    EvalCommand(Cli root) {
        this.root = root;
    }

    @Override
    public Integer call() throws Exception {
        Runs.positive(spec.commandLine(), "--batch", batch);
        if (recipe != null) {
            Runs.checkRecipe(spec, root.models, recipe);
        }
        LlamaTrainable model = LlamaTrainable.restore(Checkpoints.load(checkpoint), recipe);
        int max = model.model().config().maxSeq();
        int s = seq != null ? seq : max;
        Runs.positive(spec.commandLine(), "--seq", s);
        if (s > max) {
            throw new Cli.UsageException("--seq " + s + " exceeds the model's context of " + max, null);
        }
        TextDataset text = TextDataset.fromFile(data);
        int[] all = new int[text.size()];
        int[] tr = text.tokens(Split.TRAIN);
        int[] va = text.tokens(Split.VALIDATION);
        System.arraycopy(tr, 0, all, 0, tr.length);
        System.arraycopy(va, 0, all, tr.length, va.length);
        Evaluation e = Evaluation.of(model, all, s, batch);
        root.out.printf(Locale.ROOT, "tokens: %d predicted (%d windows of up to %d)%n", e.predictions(), (e.predictions() + s - 1) / s, s);
        root.out.printf(Locale.ROOT, "bits per byte: %.6f%n", e.bitsPerToken());
        root.out.printf(Locale.ROOT, "perplexity: %.6f%n", e.perplexity());
        root.out.printf(Locale.ROOT, "loss: %.6f%n", e.meanLoss());
        return 0;
    }
}
