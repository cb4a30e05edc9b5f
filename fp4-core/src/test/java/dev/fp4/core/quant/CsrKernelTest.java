package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The vector kernels of {@link CsrMatrix} against their scalar twins and against the products they
 * replace, bit for bit (raw bits: signed zeros and NaN payloads included), on random and
 * adversarial data: widths that are not multiples of the vector length, empty rows, ±0, ties,
 * subnormals, huge values that overflow, ±∞ and NaN.
 */
@Tag("kernel")
class CsrKernelTest {

    private static final float[] SPECIAL = {0f, -0f, 1f, -1f, 0.5f, Float.MIN_VALUE, -Float.MIN_VALUE,
        Float.MIN_NORMAL, 1e38f, -3e38f, Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
        Float.NaN, 1f + 0x1p-23f, 0x1p-24f, 3f, 6f};

    /** Gaussian with a share of special values. */
    private static float[] adversarial(int n, SplittableRandom r, double specialShare) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextDouble() < specialShare ? SPECIAL[r.nextInt(SPECIAL.length)] : (float) r.nextGaussian();
        }
        return x;
    }

    /** A sparse matrix with about {@code density} non-zeros (some rows empty), values adversarial. */
    private static CsrMatrix sparse(int rows, int cols, double density, SplittableRandom r, double specialShare) {
        CsrMatrix m = new CsrMatrix(rows, cols);
        for (int i = 0; i < rows; i++) {
            boolean empty = r.nextInt(5) == 0;
            for (int c = 0; c < cols; c++) {
                if (!empty && r.nextDouble() < density) {
                    float v = r.nextDouble() < specialShare ? SPECIAL[r.nextInt(SPECIAL.length)] : (float) r.nextGaussian();
                    m.append(c, v == 0f ? 1f : v); // explicit zeros are not stored by the clamp either
                }
            }
            m.endRow();
        }
        return m;
    }

    private static float[] transpose(float[] w, int rows, int cols) {
        float[] t = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = w[r * cols + c];
            }
        }
        return t;
    }

    private static void assertBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])
                    && !(Float.isNaN(expected[i]) && Float.isNaN(actual[i]))) {
                assertEquals(expected[i], actual[i], what + " at " + i + " (bits "
                        + Integer.toHexString(Float.floatToRawIntBits(expected[i])) + " vs "
                        + Integer.toHexString(Float.floatToRawIntBits(actual[i])) + ")");
                assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]), what + " at " + i);
            }
        }
    }

    private static final int[][] SHAPES = {{1, 1, 1}, {3, 5, 7}, {9, 33, 17}, {20, 64, 64}, {13, 40, 130},
        {7, 257, 100}, {30, 16, 63}};

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.05, 0.3, 1.0})
    void multiplyNTTransposedEqualsMultiplyNT(double specialShare) {
        SplittableRandom r = new SplittableRandom(41 + (long) (specialShare * 100));
        for (int[] s : SHAPES) {
            int m = s[0];
            int k = s[1];
            int n = s[2];
            for (double density : new double[] {0.02, 0.3, 1.0}) {
                CsrMatrix sp = sparse(m, k, density, r, specialShare);
                float[] w = adversarial(n * k, r, specialShare);
                float[] wt = transpose(w, n, k);
                for (boolean acc : new boolean[] {false, true}) {
                    float[] c0 = adversarial(m * n, r, specialShare);
                    float[] ref = c0.clone();
                    float[] vec = c0.clone();
                    float[] sca = c0.clone();
                    sp.multiplyNT(w, 0, n, ref, 0, acc);
                    sp.multiplyNTTransposedVector(wt, 0, n, vec, 0, acc, 0, m);
                    sp.multiplyNTTransposedScalar(wt, 0, n, sca, 0, acc, 0, m);
                    String what = java.util.Arrays.toString(s) + " density " + density + " acc " + acc;
                    assertBits(ref, sca, "scalar twin vs multiplyNT " + what);
                    assertBits(sca, vec, "vector vs scalar " + what);
                    float[] pub = c0.clone();
                    sp.multiplyNTTransposed(wt, 0, n, pub, 0, acc);
                    assertBits(ref, pub, "dispatch " + what);
                    // Row ranges in any order (what a split over threads does) give the same bits.
                    float[] split = c0.clone();
                    int cut = r.nextInt(m + 1);
                    sp.multiplyNTTransposed(wt, 0, n, split, 0, acc, cut, m);
                    sp.multiplyNTTransposed(wt, 0, n, split, 0, acc, 0, cut);
                    assertBits(ref, split, "rows split at " + cut + " " + what);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.05, 0.3, 1.0})
    void multiplyTNVectorEqualsScalar(double specialShare) {
        SplittableRandom r = new SplittableRandom(43 + (long) (specialShare * 100));
        for (int[] s : SHAPES) {
            int m = s[0];
            int k = s[1];
            int n = s[2];
            for (double density : new double[] {0.02, 0.3, 1.0}) {
                CsrMatrix sp = sparse(m, k, density, r, specialShare);
                float[] b = adversarial(m * n, r, specialShare);
                float[] c0 = adversarial(k * n, r, specialShare);
                float[] vec = c0.clone();
                float[] sca = c0.clone();
                sp.multiplyTNVector(b, 0, n, vec, 0, 0, n);
                sp.multiplyTNScalar(b, 0, n, sca, 0, 0, n);
                assertBits(sca, vec, "TN " + java.util.Arrays.toString(s) + " density " + density);
                // Column ranges cut anywhere (inside a vector or not), in any order: the same bits.
                float[] split = c0.clone();
                int cut = r.nextInt(n + 1);
                sp.multiplyTN(b, 0, n, split, 0, cut, n);
                sp.multiplyTN(b, 0, n, split, 0, 0, cut);
                assertBits(sca, split, "TN columns split at " + cut + " " + java.util.Arrays.toString(s));
            }
        }
    }

    /** leftMultiplyTN(A, C) = (multiplyTN(A, Cᵀ))ᵀ bit for bit (fma's product is exact, so its operand order is free). */
    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.3})
    void leftMultiplyTNIsMultiplyTNOnTheTranspose(double specialShare) {
        SplittableRandom r = new SplittableRandom(47);
        for (int[] s : SHAPES) {
            int m = s[0];
            int k = s[1];
            int n = s[2];
            CsrMatrix sp = sparse(m, k, 0.2, r, specialShare);
            float[] a = adversarial(m * n, r, specialShare);
            float[] c0 = adversarial(n * k, r, specialShare);
            float[] ref = c0.clone();
            sp.leftMultiplyTN(a, 0, n, ref, 0, true);
            float[] ct = transpose(c0, n, k);
            sp.multiplyTN(a, 0, n, ct, 0, true);
            assertBits(ref, transpose(ct, k, n), "leftTN " + java.util.Arrays.toString(s));
        }
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.0, 0.05, 0.3})
    void sampledProductEqualsOneChainPerNonZero(double specialShare) {
        SplittableRandom r = new SplittableRandom(53 + (long) (specialShare * 100));
        for (int[] s : SHAPES) {
            int m = s[0];
            int k = s[1];
            int n = s[2];
            for (double density : new double[] {0.02, 0.3, 1.0}) {
                CsrMatrix sp = sparse(m, k, density, r, specialShare);
                float[] a = adversarial(m * n, r, specialShare);
                float[] b = adversarial(k * n, r, specialShare);
                float[] d0 = adversarial(m * k, r, specialShare);
                float[] expected = d0.clone();
                int[] ptr = sp.rowPtr();
                int[] col = sp.colIdx();
                for (int i = 0; i < m; i++) {
                    for (int t = ptr[i]; t < ptr[i + 1]; t++) {
                        float sum = 0f;
                        for (int j = 0; j < n; j++) {
                            sum = Math.fma(a[i * n + j], b[col[t] * n + j], sum);
                        }
                        expected[i * k + col[t]] = sum;
                    }
                }
                float[] got = d0.clone();
                sp.sampledProductNT(a, 0, n, b, 0, got, 0);
                assertBits(expected, got, "sampled " + java.util.Arrays.toString(s) + " density " + density);
                // Element ranges cut anywhere (inside rows, at group-of-four boundaries or not) in any
                // order give the same bits: what a split over threads relies on.
                float[] split = d0.clone();
                int nnz = sp.nnz();
                int cut1 = nnz == 0 ? 0 : r.nextInt(nnz + 1);
                int cut2 = cut1 + (nnz == cut1 ? 0 : r.nextInt(nnz - cut1 + 1));
                sp.sampledProductNT(a, 0, n, b, 0, split, 0, cut2, nnz);
                sp.sampledProductNT(a, 0, n, b, 0, split, 0, 0, cut1);
                sp.sampledProductNT(a, 0, n, b, 0, split, 0, cut1, cut2);
                assertBits(expected, split, "split at " + cut1 + ", " + cut2 + " of " + nnz);
                // Column ranges, likewise (the unit of the column kernel and of the split in Linear).
                float[] byColumns = d0.clone();
                int c1 = r.nextInt(k + 1);
                int c2 = c1 + r.nextInt(k - c1 + 1);
                sp.sampledProductNTColumns(a, 0, n, b, 0, byColumns, 0, c2, k);
                sp.sampledProductNTColumns(a, 0, n, b, 0, byColumns, 0, 0, c1);
                sp.sampledProductNTColumns(a, 0, n, b, 0, byColumns, 0, c1, c2);
                assertBits(expected, byColumns, "columns split at " + c1 + ", " + c2 + " of " + k);
            }
        }
    }

    /** The column view is rebuilt when the pattern changes and its row offsets when n changes. */
    @org.junit.jupiter.api.Test
    void sampledProductFollowsANewPatternAndANewWidth() {
        SplittableRandom r = new SplittableRandom(61);
        int m = 40;
        int k = 24;
        CsrMatrix sp = sparse(m, k, 0.4, r, 0.0);
        for (int round = 0; round < 4; round++) {
            int n = round % 2 == 0 ? 17 : 33;
            float[] a = adversarial(m * n, r, 0.0);
            float[] b = adversarial(k * n, r, 0.0);
            float[] expected = new float[m * k];
            sp.sampledProductNT(a, 0, n, b, 0, expected, 0, 0, sp.nnz()); // element order: the other kernel
            float[] got = new float[m * k];
            sp.sampledProductNT(a, 0, n, b, 0, got, 0);
            assertBits(expected, got, "round " + round + " n " + n);
            // A new pattern in the same matrix: rows with 0 to 12 elements.
            sp.reset(m, k);
            for (int i = 0; i < m; i++) {
                int count = r.nextInt(13);
                int c = 0;
                for (int e = 0; e < count && c < k; e++) {
                    c += 1 + r.nextInt(2);
                    if (c - 1 < k) {
                        sp.append(c - 1, (float) r.nextGaussian());
                    }
                }
                sp.endRow();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3})
    void offsetsAreHonoured(int off) {
        SplittableRandom r = new SplittableRandom(59);
        int m = 6;
        int k = 20;
        int n = 37;
        CsrMatrix sp = sparse(m, k, 0.3, r, 0.0);
        float[] w = adversarial(n * k, r, 0.0);
        float[] wt = new float[off + n * k];
        System.arraycopy(transpose(w, n, k), 0, wt, off, n * k);
        float[] ref = new float[m * n];
        sp.multiplyNT(w, 0, n, ref, 0, false);
        float[] got = new float[off + m * n];
        sp.multiplyNTTransposed(wt, off, n, got, off, false);
        assertArrayEquals(ref, java.util.Arrays.copyOfRange(got, off, off + m * n));
    }

    @org.junit.jupiter.api.Test
    void shapeErrorsNameTheOperand() {
        CsrMatrix sp = sparse(3, 4, 0.5, new SplittableRandom(1), 0.0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> sp.multiplyNTTransposed(new float[10], 0, 3, new float[9], 0, false));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("Wt [4, 3]"), e.getMessage());
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class,
                () -> sp.sampledProductNT(new float[6], 0, 2, new float[8], 0, new float[11], 0));
        org.junit.jupiter.api.Assertions.assertTrue(e2.getMessage().contains("dst [3, 4]"), e2.getMessage());
        IllegalArgumentException e3 = assertThrows(IllegalArgumentException.class,
                () -> sp.sampledProductNT(new float[6], 0, 2, new float[8], 0, new float[12], 0, 0, sp.nnz() + 1));
        org.junit.jupiter.api.Assertions.assertTrue(e3.getMessage().contains("element range"), e3.getMessage());
        IllegalArgumentException e4 = assertThrows(IllegalArgumentException.class,
                () -> sp.sampledProductNTColumns(new float[6], 0, 2, new float[8], 0, new float[12], 0, 2, 5));
        org.junit.jupiter.api.Assertions.assertTrue(e4.getMessage().contains("column range"), e4.getMessage());
    }
}
