package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.gemm.FloatGemm;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CsrMatrixTest {

    /** A [rows, cols] matrix with about {@code density} non-zeros (Gaussian), the rest +0 or -0. */
    static float[] sparseDense(int rows, int cols, double density, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextDouble() < density ? (float) r.nextGaussian() : (r.nextBoolean() ? 0f : -0f);
        }
        return x;
    }

    static float[] gaussian(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /**
     * Map -0 to +0. The sparse products skip the zero terms the dense GeMM adds; adding ±0 changes
     * nothing but the sign of a zero result, so the two agree exactly in value.
     */
    static float[] plusZero(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i] + 0f;
        }
        return y;
    }

    @Test
    void buildsFromDenseAndBack() {
        float[] d = {0f, 1.5f, 0f, -0f, 0f, 0f, 0f, 0f, 2f, 0f, -3f, 0f};
        CsrMatrix m = CsrMatrix.fromDense(d, 0, 3, 4);
        assertEquals(3, m.nnz());
        assertEquals(3.0 / 12, m.density());
        assertArrayEquals(new int[] {0, 1, 1, 3}, java.util.Arrays.copyOf(m.rowPtr(), 4));
        assertArrayEquals(new int[] {1, 0, 2}, java.util.Arrays.copyOf(m.colIdx(), 3));
        assertEquals(2f, m.get(2, 0));
        assertEquals(0f, m.get(1, 3));
        assertArrayEquals(plusZero(d), m.toDense());
    }

    @Test
    void appendApiReusesStorage() {
        CsrMatrix m = new CsrMatrix(2, 5, 4);
        int[] cols = m.colIdx();
        m.append(1, 1f);
        m.append(4, 2f);
        m.endRow();
        assertFalse(m.isComplete());
        assertThrows(IllegalStateException.class, m::toDense);
        m.append(0, 3f);
        m.endRow();
        assertTrue(m.isComplete());
        assertArrayEquals(new float[] {0, 1, 0, 0, 2, 3, 0, 0, 0, 0}, m.toDense());
        m.reset(3, 2);
        assertEquals(0, m.nnz());
        for (int r = 0; r < 3; r++) {
            m.append(1, r + 1f);
            m.endRow();
        }
        assertSame(cols, m.colIdx(), "no reallocation while the capacity suffices");
        assertArrayEquals(new float[] {0, 1, 0, 2, 0, 3}, m.toDense());
        assertThrows(IllegalStateException.class, () -> m.append(0, 1f));
        assertThrows(IllegalStateException.class, m::endRow);
        m.reset(1, 3);
        m.append(2, 1f);
        assertThrows(IllegalArgumentException.class, () -> m.append(2, 1f), "columns increase strictly");
        assertThrows(IllegalArgumentException.class, () -> m.append(3, 1f), "column out of range");
        assertThrows(IllegalArgumentException.class, () -> m.append(0, 1f), "0 after 2 in one row");
    }

    @Test
    void growsWhenAppendingBeyondCapacity() {
        CsrMatrix m = new CsrMatrix(1, 100);
        for (int c = 0; c < 100; c++) {
            m.append(c, c);
        }
        m.endRow();
        assertEquals(100, m.nnz());
        assertEquals(99f, m.get(0, 99));
    }

    @Test
    void productsEqualFloatGemmOnTheDenseMatrix() {
        SplittableRandom r = new SplittableRandom(12);
        int[][] shapes = {{1, 1, 1}, {5, 7, 3}, {17, 64, 9}, {33, 100, 40}, {8, 1, 5}};
        for (int[] s : shapes) {
            int m = s[0];
            int k = s[1];
            int n = s[2];
            for (double density : new double[] {0.0, 0.02, 0.3, 1.0}) {
                float[] dense = sparseDense(m, k, density, r.nextLong());
                CsrMatrix sp = CsrMatrix.fromDense(dense, 0, m, k);
                String what = java.util.Arrays.toString(s) + " density " + density;
                for (boolean acc : new boolean[] {false, true}) {
                    // NT: C[m,n] (+)= S[m,k]·W[n,k]ᵀ
                    float[] w = gaussian(n * k, r.nextLong());
                    float[] c0 = gaussian(m * n, r.nextLong());
                    float[] expected = c0.clone();
                    float[] got = c0.clone();
                    FloatGemm.matmulNT(dense, 0, w, 0, expected, 0, m, n, k, acc);
                    sp.multiplyNT(w, 0, n, got, 0, acc);
                    assertArrayEquals(plusZero(expected), plusZero(got), "NT " + what);
                    // NN: C[m,n] (+)= S[m,k]·B[k,n]
                    float[] b = gaussian(k * n, r.nextLong());
                    expected = c0.clone();
                    got = c0.clone();
                    FloatGemm.matmulNN(dense, 0, b, 0, expected, 0, m, n, k, acc);
                    sp.multiplyNN(b, 0, n, got, 0, acc);
                    assertArrayEquals(plusZero(expected), plusZero(got), "NN " + what);
                    // TN: C[k,n] (+)= S[m,k]ᵀ·B[m,n]
                    float[] bm = gaussian(m * n, r.nextLong());
                    float[] ck = gaussian(k * n, r.nextLong());
                    expected = ck.clone();
                    got = ck.clone();
                    FloatGemm.matmulTN(dense, 0, bm, 0, expected, 0, k, n, m, acc);
                    sp.multiplyTN(bm, 0, n, got, 0, acc);
                    assertArrayEquals(plusZero(expected), plusZero(got), "TN " + what);
                    // left TN: C[n,k] (+)= A[m,n]ᵀ·S[m,k]
                    float[] cn = gaussian(n * k, r.nextLong());
                    expected = cn.clone();
                    got = cn.clone();
                    FloatGemm.matmulTN(bm, 0, dense, 0, expected, 0, n, k, m, acc);
                    sp.leftMultiplyTN(bm, 0, n, got, 0, acc);
                    assertArrayEquals(plusZero(expected), plusZero(got), "leftTN " + what);
                }
            }
        }
    }

    @Test
    void productsHonourOffsets() {
        float[] dense = sparseDense(4, 6, 0.5, 3);
        CsrMatrix sp = CsrMatrix.fromDense(dense, 0, 4, 6);
        float[] w = gaussian(3 + 5 * 6, 4);
        float[] expected = new float[2 + 20];
        float[] got = new float[2 + 20];
        FloatGemm.matmulNT(dense, 0, w, 3, expected, 2, 4, 5, 6, false);
        sp.multiplyNT(w, 3, 5, got, 2, false);
        assertArrayEquals(plusZero(expected), plusZero(got));
    }

    @Test
    void shapeErrorsNameBothShapes() {
        CsrMatrix sp = CsrMatrix.fromDense(new float[12], 0, 3, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> sp.multiplyNT(new float[10], 0, 3, new float[9], 0, false));
        assertTrue(e.getMessage().contains("[3, 4]") && e.getMessage().contains("W [3, 4]")
                && e.getMessage().contains("needs 12"), e.getMessage());
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class,
                () -> sp.multiplyNN(new float[8], 0, 2, new float[5], 0, false));
        assertTrue(e2.getMessage().contains("[3, 4]") && e2.getMessage().contains("C [3, 2]"), e2.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new CsrMatrix(-1, 2));
        assertThrows(IllegalArgumentException.class, () -> CsrMatrix.fromDense(new float[5], 0, 2, 3));
    }
}
