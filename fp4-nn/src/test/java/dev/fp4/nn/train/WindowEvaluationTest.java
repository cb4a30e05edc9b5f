package dev.fp4.nn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.data.Split;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link WindowEvaluator} against the slow way: one window at a time through the model's mean loss. */
class WindowEvaluationTest {
    private static int[] tokens(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(256);
        }
        return t;
    }

    /** Mean over every position computed window by window with evaluate(t, y, 1, len). */
    private static double slowMean(TrainableModel m, int[] t, int seq, double[] perWindow) {
        double sum = 0;
        int w = 0;
        for (int start = 0; start < t.length - 1; start += seq, w++) {
            int len = Math.min(seq, t.length - 1 - start);
            float loss = m.evaluate(Arrays.copyOfRange(t, start, start + len), Arrays.copyOfRange(t, start + 1, start + 1 + len), 1, len);
            perWindow[w] = loss;
            sum += (double) loss * len;
        }
        return sum / (t.length - 1);
    }

    @Test
    void everyPositionOnceWithThePartialLastWindow() {
        LlamaTrainable m = new LlamaTrainable(new LlamaModel(LlamaConfig.tiny(), PrecisionRecipe.FP32, 3));
        int seq = 16;
        int[] t = tokens(16 * 7 + 6, 1);                 // 117 targets: 7 full windows and one of 5
        WindowLosses w = WindowEvaluator.evaluate(m, t, seq, 3);
        assertEquals(8, w.windows());
        assertEquals(t.length - 1, w.positions());
        assertEquals(5, w.lengths()[7]);
        double[] slow = new double[8];
        double ref = slowMean(m, t, seq, slow);
        // batched (3 rows) vs one row per call: the same per-position values, means rounded to float in the slow way
        for (int i = 0; i < 8; i++) {
            assertEquals(slow[i], w.losses()[i], 2e-6 * slow[i], "window " + i);
        }
        assertEquals(ref, w.mean(), 1e-6 * ref);
        // the default (row by row) evaluation gives the same windows for a model without per-position losses
        BigramModel b = new BigramModel(4);
        WindowLosses wb = WindowEvaluator.evaluate(b, t, seq, 4);
        double[] slowB = new double[8];
        assertEquals(slowMean(b, t, seq, slowB), wb.mean(), 1e-12);
        assertArrayEquals(slowB, wb.losses());
    }

    @Test
    void badArguments() {
        BigramModel b = new BigramModel(4);
        assertThrows(IllegalArgumentException.class, () -> WindowEvaluator.evaluate(b, new int[] {1}, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> WindowEvaluator.evaluate(b, new int[] {1, 2, 3}, 0, 1));
        WindowLosses one = WindowEvaluator.evaluate(b, new int[] {1, 2}, 64, 8);
        assertEquals(1, one.windows());
        assertEquals(1, one.positions());
    }

    @Test
    void trainerEndsWithTheWholeValidationSplit() {
        BigramModel model = new BigramModel(1);
        Trainer tr = new Trainer(model, TrainerTest.DATA, TrainerTest.CFG.withSteps(4), null);
        TrainingResult r = tr.run();
        assertEquals(TrainingResult.Status.COMPLETED, r.status());
        WindowLosses v = tr.finalValidation();
        assertNotNull(v);
        int val = TrainerTest.DATA.size(Split.VALIDATION);
        assertEquals(val - 1, v.positions());
        assertEquals((val - 1 + 31) / 32, v.windows());
        assertEquals(v.mean(), tr.evaluateSplit(Split.VALIDATION).mean());
        // the batch size does not change a window's loss
        assertArrayEquals(v.losses(), WindowEvaluator.evaluate(model, TrainerTest.DATA.tokens(Split.VALIDATION), 32, 5).losses());
    }

    @Test
    void bootstrapOfAConstantGapIsThatConstant() {
        WindowLosses a = new WindowLosses(new double[] {2.5, 3.0, 1.0, 4.0}, new int[] {8, 8, 8, 3});
        WindowLosses b = new WindowLosses(new double[] {2.25, 2.75, 0.75, 3.75}, new int[] {8, 8, 8, 3});
        PairedBootstrap.Interval i = PairedBootstrap.gap(a, b, 1000, 0.95, 1);
        assertEquals(0.25, i.gap(), 1e-15);
        assertEquals(0.25, i.lower(), 1e-15);
        assertEquals(0.25, i.upper(), 1e-15);
    }

    /**
     * Two windows with differences 0 and 1: a resample's mean is 0, 1/2 or 1 with probabilities
     * 1/4, 1/2, 1/4, so the 2.5% and 97.5% percentiles are 0 and 1 exactly.
     */
    @Test
    void bootstrapOfTwoWindowsHasTheKnownPercentiles() {
        WindowLosses a = new WindowLosses(new double[] {1, 2}, new int[] {4, 4});
        WindowLosses b = new WindowLosses(new double[] {1, 1}, new int[] {4, 4});
        PairedBootstrap.Interval i = PairedBootstrap.gap(a, b, 4000, 0.95, 7);
        assertEquals(0.5, i.gap());
        assertEquals(0.0, i.lower());
        assertEquals(1.0, i.upper());
        PairedBootstrap.Interval half = PairedBootstrap.gap(a, b, 4000, 0.4, 7);   // 30% and 70% percentiles: the middle value
        assertEquals(0.5, half.lower());
        assertEquals(0.5, half.upper());
    }

    /**
     * n = 4000 windows with paired differences ~ N(0.1, 1): the mean's sampling distribution is
     * N(0.1, 1/n), so the interval is the sample mean ± 1.96·s/√n up to the bootstrap's Monte
     * Carlo error (10,000 replicates: the 2.5% quantile's relative error is about 3%); windows of equal
     * weight. A baseline loss common to both models (window difficulty) must not widen it.
     */
    @Test
    void bootstrapMatchesTheNormalIntervalAndCancelsWindowDifficulty() {
        int n = 4000;
        SplittableRandom r = new SplittableRandom(11);
        double[] la = new double[n];
        double[] lb = new double[n];
        int[] len = new int[n];
        double sum = 0;
        double sq = 0;
        for (int w = 0; w < n; w++) {
            double difficulty = 5 * r.nextGaussian();
            double d = 0.1 + r.nextGaussian();
            la[w] = difficulty + d;
            lb[w] = difficulty;
            len[w] = 64;
            sum += d;
            sq += d * d;
        }
        double mean = sum / n;
        double s = Math.sqrt((sq - n * mean * mean) / (n - 1));
        double half = 1.959964 * s / Math.sqrt(n);
        PairedBootstrap.Interval i = PairedBootstrap.gap(new WindowLosses(la, len), new WindowLosses(lb, len), PairedBootstrap.RESAMPLES,
                0.95, 3);
        assertEquals(mean, i.gap(), 1e-9);
        assertEquals(mean - half, i.lower(), 0.08 * half);
        assertEquals(mean + half, i.upper(), 0.08 * half);
        assertEquals(i, PairedBootstrap.gap(new WindowLosses(la, len), new WindowLosses(lb, len), PairedBootstrap.RESAMPLES, 0.95, 3));
        assertThrows(IllegalArgumentException.class, () -> PairedBootstrap.gap(new WindowLosses(la, len),
                new WindowLosses(new double[] {1}, new int[] {64}), 10, 0.95, 1));
    }
}
