package dev.fp4.bench.cli;

import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.TrainingListener;
import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress display on stderr: bar, step, loss, tokens/s and ETA. On a terminal the line
 * is redrawn in place (at most 5 times a second); otherwise a line is printed every 10% of the run.
 */
final class ProgressBar implements TrainingListener {
    private final PrintStream err;
    private final String label;
    private final boolean interactive;
    private final boolean visible;
    private final long start = System.nanoTime();
    private final long firstStep;
    private long lastDraw;
    private long lastDecile = -1;
    private double lastVal = Double.NaN;
    private double tokensPerStep;

    /**
     * @param visible false for a bar that shows nothing (--quiet, or log lines instead)
     */
    ProgressBar(PrintStream err, String label, boolean visible, boolean interactive, long firstStep, long tokensPerStep) {
        this.visible = visible;
        this.err = err;
        this.label = label;
        this.interactive = interactive;
        this.firstStep = firstStep;
        this.tokensPerStep = tokensPerStep;
    }

    static String format(String label, long step, long total, double loss, double val, double tokPerSec, double etaSeconds) {
        int width = 20;
        int filled = (int) Math.min(width, Math.round(width * (double) step / total));
        String bar = "#".repeat(filled) + ".".repeat(width - filled);
        long eta = Math.round(Math.max(0, etaSeconds));
        return String.format(Locale.ROOT, "%s [%s] step %d/%d  loss %.4f%s  %.0f tok/s  ETA %d:%02d", label, bar, step, total, loss,
                Double.isNaN(val) ? "" : String.format(Locale.ROOT, "  val %.4f", val), tokPerSec, eta / 60, eta % 60);
    }

    @Override
    public void onStep(StepRecord r, long total) {
        if (!visible) {
            return;
        }
        if (r.evaluated()) {
            lastVal = r.valLoss();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        long done = r.step() - firstStep;
        double tps = done * tokensPerStep / Math.max(elapsed, 1e-9);
        double eta = elapsed / Math.max(1, done) * (total - r.step());
        String line = format(label, r.step(), total, r.trainLoss(), lastVal, tps, eta);
        if (interactive) {
            long now = System.nanoTime();
            if (now - lastDraw > 200_000_000L || r.step() == total) {
                err.print("\r" + line + "   ");
                if (r.step() == total) {
                    err.println();
                }
                err.flush();
                lastDraw = now;
            }
        } else {
            long decile = r.step() * 10 / total;
            if (decile != lastDecile) {
                err.println(line);
                lastDecile = decile;
            }
        }
    }

    /** Ends an in-place line early (run stopped). */
    void finish() {
        if (visible && interactive) {
            err.println();
        }
    }
}
