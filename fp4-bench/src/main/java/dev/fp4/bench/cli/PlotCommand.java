package dev.fp4.bench.cli;

import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.TrainingResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code fp4 plot}: merges the {@code losses.csv} of several {@code compare} runs (e.g. recipes run
 * as separate processes or on separate machines) into one CSV and one plot.
 */
@Command(name = "plot", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Merges losses.csv files written by 'fp4 compare' (columns recipe,step,train_loss,val_loss) into "
                + "DIR/losses.csv and redraws DIR/losses.png with every recipe's training and validation curves."})
final class PlotCommand implements Callable<Integer> {
    private final Cli root;

    @Parameters(arity = "1..*", paramLabel = "CSV", description = "losses.csv files, in legend order.")
    List<Path> inputs;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "Output directory.")
    Path out;

    @Option(names = "--title", paramLabel = "TEXT", defaultValue = "fp4 compare", description = "Plot title. Default: ${DEFAULT-VALUE}.")
    String title;

    PlotCommand(Cli root) {
        this.root = root;
    }

    @Override
    public Integer call() throws IOException {
        Map<String, List<StepRecord>> runs = new LinkedHashMap<>();
        for (Path f : inputs) {
            Map<String, List<StepRecord>> own = read(f);
            for (String recipe : own.keySet()) {
                if (runs.containsKey(recipe)) {
                    throw new Cli.UsageException(f + ": recipe '" + recipe + "' already came from an earlier file", null);
                }
            }
            runs.putAll(own);
        }
        List<RecipeRun> list = new ArrayList<>();
        runs.forEach((r, records) -> list.add(new RecipeRun(r, records, TrainingResult.Status.COMPLETED, "", Double.NaN, Double.NaN, null)));
        Files.createDirectories(out);
        Reports.text(out.resolve("losses.csv"), Reports.csv(list));
        Reports.png(Reports.chart(list, title, Double.NaN), out.resolve("losses.png"));
        root.out.println("wrote " + out.resolve("losses.csv") + " and " + out.resolve("losses.png") + ": " + String.join(", ", runs.keySet()));
        return 0;
    }

    /** Rows of one file grouped by recipe, in file order; errors name the file and line. */
    static Map<String, List<StepRecord>> read(Path f) throws IOException {
        List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
        if (lines.isEmpty() || !lines.get(0).strip().equals(Reports.CSV_HEADER)) {
            throw new Cli.UsageException(f + ": not a losses.csv (first line must be '" + Reports.CSV_HEADER + "')", null);
        }
        Map<String, List<StepRecord>> runs = new LinkedHashMap<>();
        for (int i = 1; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            String[] c = line.split(",", -1);
            try {
                if (c.length != 4 || c[0].isEmpty()) {
                    throw new NumberFormatException("expected 4 columns");
                }
                double val = c[3].isEmpty() ? Double.NaN : Double.parseDouble(c[3]);
                StepRecord s = new StepRecord(Long.parseLong(c[1]), Double.parseDouble(c[2]), val, Double.NaN, Double.NaN, Double.NaN);
                runs.computeIfAbsent(c[0], k -> new ArrayList<>()).add(s);
            } catch (NumberFormatException e) {
                throw new Cli.UsageException(f + ":" + (i + 1) + ": bad row '" + line + "' (" + e.getMessage() + ")", e);
            }
        }
        return runs;
    }
}
