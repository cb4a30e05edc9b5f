package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fp4.nn.recipe.GemmPrecision;
import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.OperandFormat;
import dev.fp4.nn.recipe.Quantizer;
import dev.fp4.nn.recipe.WeightGradientEstimator;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The quantized GeMM paths of {@link Linear}: forward, data and weight gradient equal the
 * definitions of {@link LinearPrecision} computed here by hand from the quantized operands, with
 * each operand quantized in its GeMM-compatible layout (rows of [·, K]) and the estimator applied
 * on the scaled weights.
 *
 * <p>The test format rounds each row to a 3-bit grid under a power-of-two row scale
 * (x ↦ rint(x/s)·s, s = 2^(⌈log2 amax⌉ − 2)), so which rows the scales cover shows up in the
 * results. Products of such values have few significant bits and the sums here have ≤ 9 terms,
 * so FP32 and the double-precision expectation agree to within a few ulp: 1e-6 relative to the
 * largest expected magnitude is allowed.
 */
class QuantizedLinearTest {

    /** Row-wise power-of-two grid; also reports the scaled values for the estimator. */
    static final OperandFormat ROW_GRID = new OperandFormat() {
        @Override
        public String name() {
            return "row-grid";
        }

        @Override
        public boolean hasE2M1Elements() {
            return true;
        }

        @Override
        public Quantizer newQuantizer() {
            return new Quantizer() {
                private float[] scales = new float[0];
                private int rows;
                private int cols;

                @Override
                public void quantize(float[] src, int srcOff, int rows, int cols, float[] dst, int dstOff, long stream) {
                    this.rows = rows;
                    this.cols = cols;
                    scales = new float[rows];
                    for (int r = 0; r < rows; r++) {
                        scales[r] = rowScale(src, srcOff + r * cols, cols);
                        for (int c = 0; c < cols; c++) {
                            dst[dstOff + r * cols + c] = q(src[srcOff + r * cols + c], scales[r]);
                        }
                    }
                }

                @Override
                public void scaledValues(float[] src, int srcOff, float[] dst, int dstOff) {
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < cols; c++) {
                            dst[dstOff + r * cols + c] = src[srcOff + r * cols + c] / scales[r];
                        }
                    }
                }
            };
        }
    };

    static float rowScale(float[] x, int off, int n) {
        float amax = 0;
        for (int i = 0; i < n; i++) {
            amax = Math.max(amax, Math.abs(x[off + i]));
        }
        return amax == 0 ? 1f : (float) Math.pow(2, Math.ceil(Math.log(amax) / Math.log(2)) - 2);
    }

    static float q(float x, float s) {
        return (float) (Math.rint(x / s) * s);
    }

    /** [rows, cols] quantized row by row. */
    static double[][] qRows(double[][] m) {
        double[][] out = new double[m.length][];
        for (int r = 0; r < m.length; r++) {
            float[] row = new float[m[r].length];
            for (int c = 0; c < row.length; c++) {
                row[c] = (float) m[r][c];
            }
            float s = rowScale(row, 0, row.length);
            out[r] = new double[row.length];
            for (int c = 0; c < row.length; c++) {
                out[r][c] = q(row[c], s);
            }
        }
        return out;
    }

    static double[][] t(double[][] m) {
        double[][] out = new double[m[0].length][m.length];
        for (int r = 0; r < m.length; r++) {
            for (int c = 0; c < m[0].length; c++) {
                out[c][r] = m[r][c];
            }
        }
        return out;
    }

    /** A·Bᵀ. */
    static double[][] nt(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < b.length; j++) {
                for (int k = 0; k < a[0].length; k++) {
                    c[i][j] += a[i][k] * b[j][k];
                }
            }
        }
        return c;
    }

    static double[][] matrix(float[] x, int rows, int cols) {
        double[][] m = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                m[r][c] = x[r * cols + c];
            }
        }
        return m;
    }

    static void assertClose(double[][] expected, float[] actual, String what) {
        double scale = 0;
        for (double[] row : expected) {
            for (double v : row) {
                scale = Math.max(scale, Math.abs(v));
            }
        }
        int cols = expected[0].length;
        for (int r = 0; r < expected.length; r++) {
            for (int c = 0; c < cols; c++) {
                assertEquals(expected[r][c], actual[r * cols + c], 1e-6 * scale, what + "[" + r + "," + c + "]");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ste", "estimator"})
    void backwardIsTheEstimatorAppliedToTheQuantizedForward(String kind) {
        int rows = 9, in = 7, out = 5;
        SplittableRandom r = new SplittableRandom(3);
        WeightGradientEstimator est = kind.equals("ste") ? WeightGradientEstimator.STE
                : WeightGradientEstimator.of("test", x -> 1f + 0.5f * (float) Math.sin(x));
        GemmPrecision g = GemmPrecision.both(ROW_GRID);
        Linear lin = new Linear("w", LinearRole.FFN_UP, 0, in, out);
        lin.setPrecision(new LinearPrecision(g, g, g, est));
        float[] w = lin.weight().data();
        float[] x = new float[rows * in];
        float[] dy = new float[rows * out];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * (1 + i % 3));
        }
        for (int i = 0; i < dy.length; i++) {
            dy[i] = (float) r.nextGaussian();
        }
        float[] y = new float[rows * out];
        float[] dx = new float[rows * in];
        lin.forward(x, y, rows);
        lin.backward(dy, dx, false);

        double[][] xq = qRows(matrix(x, rows, in));          // per token
        double[][] wq = qRows(matrix(w, out, in));          // per output channel
        assertClose(nt(xq, wq), y, "forward");
        // dX = Q(dY)·Q(Ŵᵀ)ᵀ: Ŵᵀ [in, out] quantized per row, i.e. per input column of W.
        assertClose(nt(qRows(matrix(dy, rows, out)), qRows(t(wq))), dx, "data gradient");
        // dŴ = Q(dYᵀ)·Q(X̂ᵀ)ᵀ, rows along tokens; then ⊙ f'(W/s_row).
        double[][] dwq = nt(qRows(t(matrix(dy, rows, out))), qRows(t(xq)));
        double[][] w0 = matrix(w, out, in);
        for (int o = 0; o < out; o++) {
            float s = rowScale(w, o * in, in);
            for (int i = 0; i < in; i++) {
                dwq[o][i] *= est.derivative((float) (w0[o][i] / s));
            }
        }
        assertClose(dwq, lin.weight().grad(), "weight gradient (" + kind + ")");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void fp32OperandsInOneGemmOnly(boolean forwardOnly) {
        // Quantized forward with FP32 backward (or the reverse) mixes both code paths.
        int rows = 4, in = 6, out = 3;
        SplittableRandom r = new SplittableRandom(4);
        GemmPrecision g = GemmPrecision.both(ROW_GRID);
        LinearPrecision p = forwardOnly
                ? new LinearPrecision(g, GemmPrecision.FP32, GemmPrecision.FP32, WeightGradientEstimator.STE)
                : new LinearPrecision(GemmPrecision.FP32, g, g, WeightGradientEstimator.STE);
        Linear lin = new Linear("w", LinearRole.ATTN_Q, 0, in, out);
        lin.setPrecision(p);
        float[] w = lin.weight().data();
        float[] x = new float[rows * in];
        float[] dy = new float[rows * out];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < dy.length; i++) {
            dy[i] = (float) r.nextGaussian();
        }
        float[] dx = new float[rows * in];
        lin.forward(x, new float[rows * out], rows);
        lin.backward(dy, dx, false);
        double[][] xh = forwardOnly ? qRows(matrix(x, rows, in)) : matrix(x, rows, in);
        double[][] wh = forwardOnly ? qRows(matrix(w, out, in)) : matrix(w, out, in);
        double[][] dY = matrix(dy, rows, out);
        double[][] expDx = forwardOnly ? nt(dY, t(wh)) : nt(qRows(dY), qRows(t(wh)));
        double[][] expDw = forwardOnly ? nt(t(dY), t(xh)) : nt(qRows(t(dY)), qRows(t(xh)));
        assertClose(expDx, dx, "data gradient");
        assertClose(expDw, lin.weight().grad(), "weight gradient");
    }

    @org.junit.jupiter.api.Test
    void estimatorNeedsFp4Weights() {
        WeightGradientEstimator est = WeightGradientEstimator.of("test", x -> 2f);
        var e = assertThrows(IllegalArgumentException.class, () -> new LinearPrecision(GemmPrecision.FP32,
                GemmPrecision.FP32, GemmPrecision.FP32, est));
        assertEquals(true, e.getMessage().contains("fp32"), e.getMessage());
    }
}
