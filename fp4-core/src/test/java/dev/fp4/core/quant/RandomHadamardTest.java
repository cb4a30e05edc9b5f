package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.gemm.FloatGemm;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RandomHadamardTest {

    private static final double U = Math.scalb(1.0, -24); // unit roundoff of FP32

    static float[] gaussian(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    @Test
    void twoByTwoByHand() {
        RandomHadamard h = RandomHadamard.withSigns(new float[] {1f, -1f});
        float[] x = {1f, 3f};
        h.forward(x, 0, 1, 2);
        // s⊙x = (1, -3); H2·(1, -3) = (-2, 4); times fl(1/√2): products by 2 and 4 are exact.
        float n = (float) (1 / Math.sqrt(2));
        assertArrayEquals(new float[] {-2 * n, 4 * n}, x);
        assertEquals(n, h.normalization());
    }

    @Test
    void fourByFourByHand() {
        // H4 = [[1,1,1,1],[1,-1,1,-1],[1,1,-1,-1],[1,-1,-1,1]] / 2.
        float[] x = {1f, 2f, 3f, 4f};
        RandomHadamard.withSigns(new float[] {1f, 1f, 1f, 1f}).forward(x, 0, 1, 4);
        assertArrayEquals(new float[] {5f, -1f, -2f, 0f}, x); // (10, -2, -4, 0) / 2
        float[] y = {1f, 2f, 3f, 4f};
        RandomHadamard h = RandomHadamard.withSigns(new float[] {1f, -1f, 1f, -1f});
        h.forward(y, 0, 1, 4);
        assertArrayEquals(new float[] {-1f, 5f, 0f, -2f}, y); // H4·(1, -2, 3, -4) = (-2, 10, 0, -4)
        h.inverse(y, 0, 1, 4);
        assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, y, "exact here: every step is exact");
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4, 8, 16, 32, 64, 256})
    void columnsAreTheSignedSylvesterMatrix(int size) {
        // forward(e_j) = s_j · H[:, j] / √size with H[i][j] = (-1)^popcount(i & j): exact (one
        // non-zero input, so every butterfly adds a zero).
        RandomHadamard h = new RandomHadamard(size, 42);
        float[] s = h.signs();
        float[] x = new float[size * size];
        for (int j = 0; j < size; j++) {
            x[j * size + j] = 1f;
        }
        h.forward(x, 0, size, size); // row j holds e_j
        for (int j = 0; j < size; j++) {
            for (int i = 0; i < size; i++) {
                float expected = s[j] * (Integer.bitCount(i & j) % 2 == 0 ? 1f : -1f) * h.normalization();
                assertEquals(expected, x[j * size + i], "size " + size + " H[" + i + "][" + j + "]");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4, 8, 16, 32, 128, 256})
    void inverseUndoesForward(int size) {
        // Each butterfly stage rounds each element once (relative error <= u), the stages scale the
        // 2-norm by √2, so forward's error is <= L·u·√size·‖x‖ before and L·u·‖x‖ after the
        // normalisation (L = log2 size), plus u·‖x‖ for the normalisation's rounding when 1/√size is
        // inexact (its own error, < u relative, also counts once per direction). The inverse adds the
        // same, so ‖inverse(forward(x)) - x‖₂ <= 2(L + 2)·u·‖x‖₂ to first order; the second-order
        // terms are below 1e-12 relative and covered by the factor 1.01.
        RandomHadamard h = new RandomHadamard(size, 7);
        int rows = 9;
        int cols = size * 3;
        float[] x = gaussian(rows * cols, size);
        float[] y = x.clone();
        h.forward(y, 0, rows, cols);
        assertFalse(Arrays.equals(x, y));
        h.inverse(y, 0, rows, cols);
        int l = Integer.numberOfTrailingZeros(size);
        for (int g = 0; g < rows * cols; g += size) {
            double err = 0;
            double norm = 0;
            for (int i = g; i < g + size; i++) {
                err += (double) (y[i] - x[i]) * (y[i] - x[i]);
                norm += (double) x[i] * x[i];
            }
            double bound = 1.01 * 2 * (l + 2) * U * Math.sqrt(norm);
            assertTrue(Math.sqrt(err) <= bound, "size " + size + " group " + g + ": " + Math.sqrt(err) + " > " + bound);
        }
    }

    @Test
    void forwardPreservesTheNorm() {
        RandomHadamard h = new RandomHadamard(3);
        float[] x = gaussian(16 * 64, 1);
        float[] y = x.clone();
        h.forward(y, 0, 64, 16);
        for (int g = 0; g < x.length; g += 16) {
            double nx = 0;
            double ny = 0;
            for (int i = g; i < g + 16; i++) {
                nx += (double) x[i] * x[i];
                ny += (double) y[i] * y[i];
            }
            // ‖fl(Mx)‖ = ‖Mx‖ ± (L+1)·u·‖x‖ = ‖x‖(1 ± 5u) for size 16.
            assertEquals(Math.sqrt(nx), Math.sqrt(ny), 1.01 * 5 * U * Math.sqrt(nx));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {16, 32})
    void gemmOfTransformedOperandsEqualsTheOriginalProduct(int size) {
        // (X·Mᵀ)(W·Mᵀ)ᵀ = X·Wᵀ exactly in real arithmetic. In FP32: each transformed row differs from
        // the exact rotation by <= (L+1)·u·‖row‖ (L = log2 size); the fma dot products of length k
        // err by <= γ_k·Σ|a||b| <= γ_k·‖a‖‖b‖ (Cauchy-Schwarz; rotations keep the norms). So
        // |C_H - C| <= (2γ_k + 2(L+1)u)·‖x_i‖‖w_j‖ to first order (factor 1.01 for second order).
        int m = 12;
        int n = 10;
        int k = size * 8;
        float[] x = gaussian(m * k, 5);
        float[] w = gaussian(n * k, 6);
        float[] c = new float[m * n];
        FloatGemm.matmulNT(x, 0, w, 0, c, 0, m, n, k, false);
        RandomHadamard h = new RandomHadamard(size, 99);
        float[] hx = x.clone();
        float[] hw = w.clone();
        h.forward(hx, 0, m, k);
        h.forward(hw, 0, n, k);
        float[] ch = new float[m * n];
        FloatGemm.matmulNT(hx, 0, hw, 0, ch, 0, m, n, k, false);
        int l = Integer.numberOfTrailingZeros(size);
        double gamma = k * U / (1 - k * U);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double nx = 0;
                double nw = 0;
                for (int p = 0; p < k; p++) {
                    nx += (double) x[i * k + p] * x[i * k + p];
                    nw += (double) w[j * k + p] * w[j * k + p];
                }
                double bound = 1.01 * (2 * gamma + 2 * (l + 1) * U) * Math.sqrt(nx * nw);
                assertEquals(c[i * n + j], ch[i * n + j], bound, "C[" + i + "," + j + "]");
            }
        }
    }

    @Test
    void signsAreDeterministicFromTheSeed() {
        assertArrayEquals(new RandomHadamard(16, 1234).signs(), new RandomHadamard(16, 1234).signs());
        assertArrayEquals(new RandomHadamard(1234).signs(), new RandomHadamard(16, 1234).signs());
        int differing = 0;
        int negatives = 0;
        float[] first = new RandomHadamard(256, 0).signs();
        for (long seed = 1; seed <= 20; seed++) {
            float[] s = new RandomHadamard(256, seed).signs();
            differing += Arrays.equals(first, s) ? 0 : 1;
            for (float v : s) {
                negatives += v < 0 ? 1 : 0;
            }
        }
        assertEquals(20, differing);
        // 5120 fair signs: mean 2560, standard deviation 36; 6 sigma either side.
        assertTrue(Math.abs(negatives - 2560) < 216, "negatives " + negatives);
        // The same data and seed transform identically.
        float[] a = gaussian(64, 3);
        float[] b = a.clone();
        new RandomHadamard(32, 8).forward(a, 0, 2, 32);
        new RandomHadamard(32, 8).forward(b, 0, 2, 32);
        assertArrayEquals(a, b);
    }

    @Test
    void honoursOffsetsAndLeavesTheRestAlone() {
        RandomHadamard h = new RandomHadamard(5);
        float[] x = gaussian(3 + 2 * 32 + 4, 2);
        float[] expected = x.clone();
        float[] part = Arrays.copyOfRange(x, 3, 3 + 64);
        h.forward(part, 0, 2, 32);
        System.arraycopy(part, 0, expected, 3, 64);
        h.forward(x, 3, 2, 32);
        assertArrayEquals(expected, x);
    }

    @Test
    void rejectsBadInput() {
        RandomHadamard h = new RandomHadamard(1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> h.forward(new float[40], 0, 1, 40));
        assertTrue(e.getMessage().contains("40") && e.getMessage().contains("16"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> h.forward(new float[31], 0, 2, 16));
        assertThrows(IllegalArgumentException.class, () -> h.inverse(new float[32], 1, 2, 16));
        assertThrows(IllegalArgumentException.class, () -> new RandomHadamard(12, 1));
        assertThrows(IllegalArgumentException.class, () -> new RandomHadamard(512, 1));
        assertThrows(IllegalArgumentException.class, () -> new RandomHadamard(1, 1));
        assertThrows(IllegalArgumentException.class, () -> RandomHadamard.withSigns(new float[] {1f, 0.5f}));
        assertThrows(IllegalArgumentException.class, () -> RandomHadamard.withSigns(new float[] {1f, 1f, 1f}));
        h.forward(new float[0], 0, 0, 16); // empty is fine
    }
}
