package dev.fp4.nn.recipe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.core.quant.RandomHadamard;
import dev.fp4.core.quant.Rounding;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Transformer Engine's statistical check of NVFP4 stochastic rounding
 * ({@code tests/pytorch/nvfp4/test_nvfp4_sr_quantize.py}): for x = 2·N(0, 1) − 1, the mean of 50
 * dequantized stochastic roundings is closer to x (root mean square error) than one
 * round-to-nearest quantization, for the row-wise copy x and the column-wise copy y = xᵀ, y through
 * TE's 16-point RHT when TE applies it, with 1×16 and 16×16 blocks. The draws differ by their
 * stream, as the layers' do from step to step. A rounding that is biased, or that draws the same
 * variates every call, fails: its mean keeps an error of the order of the grid step.
 */
class Nvfp4StochasticRoundingTest {

    private static final int ITERATIONS = 50;

    @ParameterizedTest(name = "{0}x{1}, 2-D {2}, RHT {3}")
    @CsvSource({"256, 512, false, false", "256, 512, true, false", "256, 512, false, true", "256, 512, true, true",
        "64, 1040, false, true"})
    void meanOfStochasticRoundingsBeatsRoundToNearest(int m, int n, boolean twoD, boolean rht) {
        Random r = new Random(12345);
        float[] x = new float[m * n];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * 2 - 1);
        }
        // The column-wise copy: xᵀ [n, m], through the RHT along its rows (the tokens) when used.
        float[] y = new float[n * m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                y[j * m + i] = x[i * n + j];
            }
        }
        if (rht) {
            RandomHadamard.withSigns(Recipes.TE_RHT_SIGNS).forward(y, 0, n, m);
        }
        Fp4Scheme scheme = twoD ? Fp4Scheme.nvfp4_2d() : Fp4Scheme.nvfp4();
        check(x, m, n, scheme, "row-wise");
        check(y, n, m, scheme, "column-wise" + (rht ? " after the RHT" : ""));
    }

    private static void check(float[] x, int rows, int cols, Fp4Scheme scheme, String what) {
        double rn = rmse(Fp4Tensor.quantize(x, rows, cols, scheme.withRounding(Rounding.RNE)).dequantize(), x);
        Fp4Tensor t = Fp4Tensor.allocate(rows, cols, scheme.withRounding(Rounding.stochastic(Recipes.SR_SEED)));
        double[] sum = new double[x.length];
        for (int it = 0; it < ITERATIONS; it++) {
            t.quantizeFrom(x, 0, it);
            float[] d = t.dequantize();
            for (int i = 0; i < d.length; i++) {
                sum[i] += d[i];
            }
        }
        float[] mean = new float[x.length];
        for (int i = 0; i < mean.length; i++) {
            mean[i] = (float) (sum[i] / ITERATIONS);
        }
        double sr = rmse(mean, x);
        assertTrue(sr < rn, () -> what + ": RMSE of the mean of " + ITERATIONS + " stochastic roundings " + sr
                + " is not below round-to-nearest's " + rn);
        // One draw alone is worse than round-to-nearest (its variance): the draws do vary.
        t.quantizeFrom(x, 0, ITERATIONS);
        double one = rmse(t.dequantize(), x);
        assertTrue(one > rn, () -> what + ": one stochastic rounding " + one + " should be worse than RN " + rn);
    }

    private static double rmse(float[] a, float[] x) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            double e = (double) a[i] - x[i];
            s += e * e;
        }
        return Math.sqrt(s / x.length);
    }
}
