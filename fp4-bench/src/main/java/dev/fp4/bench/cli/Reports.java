package dev.fp4.bench.cli;

import dev.fp4.nn.train.PairedBootstrap;
import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.WindowLosses;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Writers of the comparison outputs: {@code losses.csv}, {@code losses.png}, {@code summary.md}. */
final class Reports {
    private Reports() {
    }

    /** Header of {@code losses.csv}. */
    static final String CSV_HEADER = "recipe,step,train_loss,val_loss";

    /** One line per (recipe, step); val_loss empty where no evaluation ran. */
    static String csv(List<RecipeRun> runs) {
        StringBuilder b = new StringBuilder(CSV_HEADER).append('\n');
        for (RecipeRun r : runs) {
            for (StepRecord s : r.records()) {
                b.append(r.recipe()).append(',').append(s.step()).append(',').append(num(s.trainLoss())).append(',');
                if (s.evaluated()) {
                    b.append(num(s.valLoss()));
                }
                b.append('\n');
            }
        }
        return b.toString();
    }

    private static String num(double x) {
        return Double.isFinite(x) ? String.format(Locale.ROOT, "%.6f", x) : Double.toString(x);
    }

    /** Training (thin) and validation (thick, markers) curves per recipe, one colour per recipe. */
    static XYChart chart(List<RecipeRun> runs, String title, double entropy) {
        XYChart chart = new XYChartBuilder().width(1100).height(650).title(title).xAxisTitle("step")
                .yAxisTitle("cross-entropy (nats per byte)").build();
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
        chart.getStyler().setMarkerSize(5);
        java.awt.Color[] palette = chart.getStyler().getSeriesColors();
        int c = 0;
        double maxStep = 1;
        for (RecipeRun r : runs) {
            java.awt.Color colour = palette[c++ % palette.length];
            List<Double> xs = new ArrayList<>(), ys = new ArrayList<>(), vx = new ArrayList<>(), vy = new ArrayList<>();
            for (StepRecord s : r.records()) {
                if (Double.isFinite(s.trainLoss())) {
                    xs.add((double) s.step());
                    ys.add(s.trainLoss());
                }
                if (s.evaluated() && Double.isFinite(s.valLoss())) {
                    vx.add((double) s.step());
                    vy.add(s.valLoss());
                }
                maxStep = Math.max(maxStep, s.step());
            }
            if (!xs.isEmpty()) {
                XYSeries t = chart.addSeries(r.recipe() + " train", xs, ys);
                t.setMarker(SeriesMarkers.NONE);
                t.setLineColor(colour);
                t.setLineWidth(1f);
            }
            if (!vx.isEmpty()) {
                XYSeries v = chart.addSeries(r.recipe() + " validation", vx, vy);
                v.setMarker(SeriesMarkers.CIRCLE);
                v.setMarkerColor(colour);
                v.setLineColor(colour);
                v.setLineWidth(2.5f);
            }
        }
        if (Double.isFinite(entropy)) {
            XYSeries h = chart.addSeries("source entropy rate", List.of(0.0, maxStep), List.of(entropy, entropy));
            h.setMarker(SeriesMarkers.NONE);
            h.setLineStyle(SeriesLines.DASH_DASH);
            h.setLineColor(java.awt.Color.GRAY);
        }
        return chart;
    }

    /** Writes the chart as PNG through a temporary file and a rename. */
    static void png(XYChart chart, Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Seed of the bootstrap draws in the summary (fixed: the same runs give the same intervals). */
    static final long BOOTSTRAP_SEED = 20250101L;

    /**
     * The Markdown summary: one row per recipe with final losses, the loss over the whole
     * validation split, the gap of that loss to the first recipe with a 95% paired bootstrap
     * interval over the validation windows, excess over the source entropy (built-in corpus only),
     * tokens/s and status.
     */
    static String summary(List<RecipeRun> runs, String header, double entropy) {
        StringBuilder b = new StringBuilder(header).append("\n\n");
        boolean h = Double.isFinite(entropy);
        RecipeRun baseRun = runs.isEmpty() ? null : runs.get(0);
        String base = baseRun == null ? "" : baseRun.recipe();
        b.append("| recipe | final train loss | val loss (sampled) | val loss (whole split) |");
        if (h) {
            b.append(" excess over entropy (val) |");
        }
        b.append(" gap to ").append(base).append(" [95% CI] | relative | tokens/s | time (s) | status |\n");
        b.append("| --- | ---: | ---: | ---: |").append(h ? " ---: |" : "").append(" ---: | ---: | ---: | ---: | --- |\n");
        WindowLosses baseFull = baseRun == null ? null : baseRun.fullValidation();
        for (RecipeRun r : runs) {
            WindowLosses full = r.fullValidation();
            double val = full != null ? full.mean() : Double.NaN;
            b.append("| ").append(r.recipe()).append(" | ").append(f4(r.finalTrainLoss())).append(" | ").append(f4(r.finalValLoss()))
                    .append(" | ").append(f4(val)).append(" |");
            if (h) {
                b.append(' ').append(f4(val - entropy)).append(" |");
            }
            String gap = "n/a";
            String rel = "n/a";
            if (full != null && baseFull != null) {
                PairedBootstrap.Interval ci = PairedBootstrap.gap(full, baseFull, PairedBootstrap.RESAMPLES, 0.95, BOOTSTRAP_SEED);
                gap = String.format(Locale.ROOT, "%+.4f [%+.4f, %+.4f]", ci.gap(), ci.lower(), ci.upper());
                rel = String.format(Locale.ROOT, "%+.2f%%", 100 * ci.gap() / baseFull.mean());
            }
            b.append(' ').append(gap).append(" | ").append(rel).append(" | ").append(String.format(Locale.ROOT, "%.0f", r.tokensPerSecond()))
                    .append(" | ").append(String.format(Locale.ROOT, "%.1f", r.seconds())).append(" | ")
                    .append(r.status().name().toLowerCase(Locale.ROOT)).append(" |\n");
        }
        b.append("\nFinal train loss: mean of the last 10 steps. Val loss (sampled): the last periodic evaluation, on a fixed sample of"
                + " validation windows. Val loss (whole split): every position of the held-out split (the last 10% of the tokens) in"
                + " non-overlapping windows, after the last step; all recipes are scored on the same windows. Gap: whole-split loss minus "
                + base + "'s, with a 95% paired bootstrap interval (" + PairedBootstrap.RESAMPLES + " resamples of the windows);"
                + " an interval that excludes 0 is a difference beyond the evaluation's noise. Losses in nats per token"
                + " (per byte with the byte tokenizer).");
        if (h) {
            b.append(String.format(Locale.ROOT, " The source's entropy rate is %.4f nats per byte, the lowest loss any model can reach;"
                    + " a model with a finite context sits slightly above it.", entropy));
        }
        b.append('\n');
        for (RecipeRun r : runs) {
            if (r.status() != dev.fp4.nn.train.TrainingResult.Status.COMPLETED) {
                b.append("\n- ").append(r.recipe()).append(": ").append(r.message()).append('\n');
            }
        }
        return b.toString();
    }

    private static String f4(double x) {
        return Double.isFinite(x) ? String.format(Locale.ROOT, "%.4f", x) : "n/a";
    }

    /** Writes text through a temporary file and a rename. */
    static void text(Path file, String content) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
