package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.nn.recipe.GemmPrecision;
import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.OperandFormat;
import dev.fp4.nn.recipe.WeightGradientEstimator;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * NVFP4's data gradient uses the forward's 16×16-quantized weight Ŵ (transposed) as Transformer
 * Engine does, not a second quantization of Ŵᵀ, which can move values: the second quantization
 * takes its tensor scale from Ŵ's amax, not W's.
 */
class Nvfp4DataGradientTest {
    static final Fp4Scheme W2D = Fp4Scheme.nvfp4_2d();

    private static float[] weights(long seed, int out, int in) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * Math.exp(r.nextGaussian()));
        }
        return w;
    }

    private static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }

    @Test
    void theDataGradientMultipliesByTheForwardsQuantizedWeight() {
        int rows = 16, in = 64, out = 48;
        // a weight whose second quantization differs from the first (found by search, seed below)
        long seed = -1;
        float[] w = null;
        float[] wq = null;
        for (long s = 1; s < 500 && seed < 0; s++) {
            float[] cand = weights(s, out, in);
            float[] q = cand.clone();
            Fp4Tensor.fakeQuantize(q, 0, out, in, W2D);
            float[] qt = transpose(q, out, in);
            float[] again = qt.clone();
            Fp4Tensor.fakeQuantize(again, 0, in, out, W2D);
            if (!Arrays.equals(qt, again)) {
                seed = s;
                w = cand;
                wq = q;
            }
        }
        assertTrue(seed > 0, "no weight found whose second quantization moves a value");

        OperandFormat act = OperandFormat.fp4(Fp4Scheme.nvfp4());
        OperandFormat weight = OperandFormat.fp4(W2D);
        LinearPrecision p = new LinearPrecision(new GemmPrecision(act, weight), new GemmPrecision(act, weight),
                GemmPrecision.FP32, WeightGradientEstimator.STE);
        Linear lin = new Linear("w", LinearRole.FFN_UP, 0, in, out);
        lin.setPrecision(p);
        System.arraycopy(w, 0, lin.weight().data(), 0, w.length);
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[rows * in];
        float[] dy = new float[rows * out];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < dy.length; i++) {
            dy[i] = (float) r.nextGaussian();
        }
        lin.forward(x, new float[rows * out], rows);
        float[] dx = new float[rows * in];
        lin.backward(dy, dx, false);

        float[] dyq = dy.clone();
        Fp4Tensor.fakeQuantize(dyq, 0, rows, out, Fp4Scheme.nvfp4());
        float[] expected = new float[rows * in];
        FloatGemm.matmulNT(dyq, 0, transpose(wq, out, in), 0, expected, 0, rows, in, out, false);
        assertArrayEquals(expected, dx, "dX = Q(dY)·Ŵ with the forward's Ŵ (seed " + seed + ")");
    }
}
