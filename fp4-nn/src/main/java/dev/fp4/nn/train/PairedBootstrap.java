package dev.fp4.nn.train;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A paired bootstrap interval for the difference of two models' mean losses scored on the same
 * windows. The statistic is the gap of the position-weighted means,
 * <pre>  Δ = Σ_w n_w·(a_w − b_w) / Σ_w n_w,</pre>
 * and each of {@code resamples} replicates draws the windows with replacement (the same draw for
 * both models, which keeps their pairing: window difficulty cancels). The interval is the
 * percentile interval: the ⌊(1−level)/2·B⌋-th and the ⌈(1+level)/2·B⌉−1-th of the sorted
 * replicates (0-based). Deterministic in the seed.
 */
public final class PairedBootstrap {
    /** Replicates used by the command line's reports. */
    public static final int RESAMPLES = 10_000;

    private PairedBootstrap() {
    }

    /**
     * A gap and its interval.
     *
     * @param gap   Δ on the windows as scored
     * @param lower lower end of the interval
     * @param upper upper end of the interval
     * @param level coverage, e.g. 0.95
     */
    public record Interval(double gap, double lower, double upper, double level) {
    }

    /**
     * The interval of mean(a) − mean(b).
     *
     * @throws IllegalArgumentException when the two were not scored on the same windows (lengths
     *                                  differ), resamples is not positive or level is not in (0, 1)
     */
    public static Interval gap(WindowLosses a, WindowLosses b, int resamples, double level, long seed) {
        if (!Arrays.equals(a.lengths(), b.lengths())) {
            throw new IllegalArgumentException("the two models were not scored on the same windows (" + a.windows() + " and "
                    + b.windows() + " windows, lengths differ)");
        }
        if (resamples <= 0 || !(level > 0 && level < 1)) {
            throw new IllegalArgumentException("need resamples > 0 and 0 < level < 1, got " + resamples + " and " + level);
        }
        int n = a.windows();
        double[] d = new double[n];
        int[] len = a.lengths();
        double num = 0;
        double den = 0;
        for (int w = 0; w < n; w++) {
            d[w] = a.losses()[w] - b.losses()[w];
            num += len[w] * d[w];
            den += len[w];
        }
        double[] reps = new double[resamples];
        SplittableRandom random = new SplittableRandom(seed);
        for (int r = 0; r < resamples; r++) {
            double sn = 0;
            double sd = 0;
            for (int i = 0; i < n; i++) {
                int w = random.nextInt(n);
                sn += len[w] * d[w];
                sd += len[w];
            }
            reps[r] = sn / sd;
        }
        Arrays.sort(reps);
        int lo = (int) Math.floor((1 - level) / 2 * resamples);
        int hi = Math.min(resamples - 1, (int) Math.ceil((1 + level) / 2 * resamples) - 1);
        return new Interval(num / den, reps[lo], reps[hi], level);
    }
}
