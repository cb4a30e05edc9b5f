package dev.fp4.bench.cli;

import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.WindowEvaluator;
import dev.fp4.nn.train.WindowLosses;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fp4 eval}: the mean loss of a checkpoint over every position of a file. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Scores a trained model on every position of a text file: the whole file in non-overlapping windows of "
                + "--seq tokens (the last one partial), each window starting without context, tokenized with the model's own "
                + "tokenizer. Prints the token count, bits per byte and perplexity, and last the line 'loss: X' (nats per token)."})
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--checkpoint", paramLabel = "PATH", required = true,
            description = "A checkpoint file, or a directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--data", paramLabel = "FILE", required = true, description = "The text file to score.")
    Path data;

    @Option(names = "--seq", paramLabel = "N", description = "Window length. Default: the model's context.")
    Integer seq;

    @Option(names = "--batch", paramLabel = "N", description = "Windows per forward pass (the result does not depend on it). Default: ${DEFAULT-VALUE}.")
    int batch = 8;

    @Option(names = "--recipe", paramLabel = "NAME", description = "Precision of the forward pass. Default: the recipe the model was trained with.")
    String recipe;

    @Option(names = "--threads", paramLabel = "N", description = "Threads (the result does not depend on it). Default: all processors.")
    Integer threads;

    private final Cli root;

    EvalCommand(Cli root) {
        this.root = root;
    }

    @Override
    public Integer call() throws IOException {
        CommandLine cl = spec.commandLine();
        Runs.positive(cl, "--batch", batch);
        if (threads != null) {
            Runs.positive(cl, "--threads", threads);
            dev.fp4.core.gemm.Gemm.setThreads(threads);
        }
        if (recipe != null && !root.models.recipes().contains(recipe)) {
            throw new CommandLine.ParameterException(cl, "unknown recipe '" + recipe + "'; valid recipes: " + String.join(", ", root.models.recipes()));
        }
        TrainedModel tm = TrainedModel.load(checkpoint);
        int window = seq != null ? seq : tm.config().maxSeq();
        if (window <= 0 || window > tm.config().maxSeq()) {
            throw new CommandLine.ParameterException(cl, "--seq must be in [1, " + tm.config().maxSeq() + "] (the model's context), got " + window);
        }
        TextDataset d;
        try {
            d = TextDataset.fromFile(data, tm.tokenizer());
        } catch (NoSuchFileException e) {
            throw new Cli.UsageException("data file not found: " + data, e);
        }
        int[] all = d.tokens();
        if (all.length < 2) {
            throw new Cli.UsageException(data + " has " + all.length + " token; evaluation needs at least 2", null);
        }
        LlamaTrainable model = new LlamaTrainable(tm.model(recipe));
        root.notes().println("model " + tm.describe() + ", forward in " + model.model().recipe().name());
        long t0 = System.nanoTime();
        WindowLosses w = WindowEvaluator.evaluate(model, all, window, batch);
        double secs = (System.nanoTime() - t0) / 1e9;
        long bytes = tm.tokenizer().bytes(all, 1, all.length - 1).length;
        double nats = w.mean() * w.positions();
        PrintStreamLines out = new PrintStreamLines(root.out);
        out.line("data: %s: %,d tokens (%s tokenizer), %,d predicted in %,d windows of up to %d (%.1f s)", data, all.length,
                tm.tokenizer().name(), w.positions(), w.windows(), window, secs);
        out.line("tokens: %d", w.positions());
        out.line("bits per byte: %.6f", nats / Math.log(2) / bytes);
        out.line("perplexity: %.6f", Math.exp(w.mean()));
        out.line("loss: %.6f", w.mean());
        return 0;
    }

    /** printf with the root locale and a newline. */
    private record PrintStreamLines(java.io.PrintStream out) {
        void line(String format, Object... args) {
            out.println(String.format(Locale.ROOT, format, args));
        }
    }
}
