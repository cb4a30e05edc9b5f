package dev.fp4.bench.cli;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.data.Tokenizer;
import dev.fp4.nn.optim.MomentPrecision;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.nn.train.TrainingResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fp4 compare}: the same model, data and seed under several recipes. */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Trains the same model on the same data from the same seed under several precision recipes and writes "
                + "losses.csv (recipe,step,train_loss,val_loss), losses.png (training and validation curves) and summary.md "
                + "(final losses, the loss over the whole validation split and each recipe's gap to the first one with a 95%% paired "
                + "bootstrap interval over the validation windows, excess over the corpus entropy on the built-in corpus, tokens/s) to --out."})
final class CompareCommand implements Callable<Integer> {
    /** The recipes compared by default. */
    static final String DEFAULT_RECIPES = "bf16,fp4-direct,fp4-dge-occ,fp4-modulewise";

    @Spec
    CommandSpec spec;

    @Mixin
    RunOptions run = new RunOptions();

    @Option(names = "--recipes", paramLabel = "A,B,C", split = ",", description = "Recipes to compare. Default: " + DEFAULT_RECIPES + ".")
    List<String> recipes = new ArrayList<>(List.of(DEFAULT_RECIPES.split(",")));

    @Option(names = "--out", paramLabel = "DIR", description = "Output directory. Default: ${DEFAULT-VALUE}.")
    Path out = Path.of("runs", "compare");

    @Option(names = "--moments", paramLabel = "P", description = "Optimizer moment storage for every recipe (${COMPLETION-CANDIDATES}). Default: ${DEFAULT-VALUE}.")
    MomentPrecision moments = MomentPrecision.FP32;

    private final Cli root;

    CompareCommand(Cli root) {
        this.root = root;
    }

    @Override
    public Integer call() throws IOException {
        ModelFactory models = root.models;
        Runs.validate(spec, run, models);
        for (String r : recipes) {
            Runs.checkRecipe(spec, models, r);
        }
        if (recipes.stream().distinct().count() != recipes.size()) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--recipes lists a recipe twice: " + String.join(",", recipes));
        }
        Runs.applyThreads(run);
        LlamaConfig shape = Runs.shape(spec, run, models, Tokenizer.byName(run.tokenizer));
        int seq = shape.maxSeq();
        Runs.Data data = Runs.data(run, seq);
        TrainingConfig cfg = Runs.config(run, seq, 1, moments, 0);
        Files.createDirectories(out);
        String header = String.format(Locale.ROOT, "# fp4 compare%n%nModel: %s (%s). Data: %s, %s tokenizer. %d steps of %d × %d tokens, "
                        + "peak LR %s (warm-up 5%%, cosine to 10%%), AdamW moments %s, seed %d, %s.",
                run.config != null ? "`" + run.config + "`" : "preset `" + run.preset + "`", Runs.describe(shape), data.description(),
                run.tokenizer, cfg.steps(), cfg.batch(), cfg.seq(), run.lr,
                moments, run.seed, threads(run.threads != null ? run.threads : Runtime.getRuntime().availableProcessors()));
        List<RecipeRun> runs = new ArrayList<>();
        long t0 = System.nanoTime();
        boolean interactive = System.console() != null;
        for (String base : recipes) {
            String recipe = Runs.recipeName(spec, run, base);
            Trainer trainer = new Trainer(models.create(shape, recipe, run.seed), data.dataset(), cfg, null);
            ProgressBar bar = new ProgressBar(root.err, String.format(Locale.ROOT, "%-15s", recipe), root.progressBar(), interactive, 0, cfg.tokensPerStep());
            TrainingResult r = trainer.run(bar);
            if (r.status() != TrainingResult.Status.COMPLETED) {
                bar.finish();
                root.err.println(recipe + ": " + r.message());
            }
            runs.add(new RecipeRun(recipe, r.records(), r.status(), r.message(), r.seconds(), r.tokensPerSecond(), trainer.finalValidation()));
            write(runs, header, data.entropyRate());
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        String summary = Reports.summary(runs, header, data.entropyRate())
                + String.format(Locale.ROOT, "%nTotal wall time: %.1f s.%n", wall);
        Reports.text(out.resolve("summary.md"), summary);
        root.out.print(summary);
        root.out.println("\nwrote " + out.resolve("losses.csv") + ", " + out.resolve("losses.png") + ", " + out.resolve("summary.md"));
        return 0;
    }

    private static String threads(int n) {
        return n == 1 ? "1 thread" : n + " threads";
    }

    private void write(List<RecipeRun> runs, String header, double entropy) throws IOException {
        Reports.text(out.resolve("losses.csv"), Reports.csv(runs));
        String title = "fp4 compare: " + run.preset + " preset, " + run.steps + " steps"
                + (Double.isFinite(entropy) ? ", built-in Markov corpus" : ", " + run.data.getFileName());
        Reports.png(Reports.chart(runs, title, entropy), out.resolve("losses.png"));
        Reports.text(out.resolve("summary.md"), Reports.summary(runs, header, entropy));
    }
}
