package dev.fp4.nn.train;

import java.util.Objects;

/**
 * The losses of a model over consecutive non-overlapping windows of a token sequence: window w
 * predicts {@code lengths[w]} targets and {@code losses[w]} is their mean loss (nats per token).
 * Together the windows predict every token of the sequence but the first.
 *
 * @param losses  mean loss of each window
 * @param lengths targets of each window (all equal but possibly the last)
 */
public record WindowLosses(double[] losses, int[] lengths) implements java.io.Serializable {
    /** Checks that both arrays have one entry per window. */
    public WindowLosses {
        Objects.requireNonNull(losses, "losses");
        Objects.requireNonNull(lengths, "lengths");
        if (losses.length != lengths.length || losses.length == 0) {
            throw new IllegalArgumentException("need one loss and one length per window (at least one), got "
                    + losses.length + " and " + lengths.length);
        }
    }

    /** Number of windows. */
    public int windows() {
        return losses.length;
    }

    /** Number of predicted positions, Σ lengths. */
    public long positions() {
        long n = 0;
        for (int l : lengths) {
            n += l;
        }
        return n;
    }

    /** Mean loss over every position: Σ_w lengths[w]·losses[w] / Σ_w lengths[w]. */
    public double mean() {
        double s = 0;
        for (int w = 0; w < losses.length; w++) {
            s += lengths[w] * losses[w];
        }
        return s / positions();
    }
}
