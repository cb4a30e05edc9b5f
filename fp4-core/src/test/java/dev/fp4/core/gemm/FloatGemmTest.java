package dev.fp4.core.gemm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class FloatGemmTest {

    enum Layout { NT, NN, TN }

    /**
     * Shapes (m, n, k): 1, primes, and sizes that are not multiples of the micro-tile (6 × 4·lanes),
     * of the vector width, of the row block (96), the column block (512) or the reduction block
     * (384); a few cross those blocks so edge tiles, several k-blocks and several column blocks occur.
     */
    static Stream<Arguments> shapes() {
        int[][] s = {
            {1, 1, 1}, {1, 17, 3}, {5, 1, 9}, {7, 13, 31}, {6, 64, 384}, {97, 127, 5}, {13, 1, 401},
            {101, 67, 385}, {200, 130, 769}, {37, 530, 11}, {98, 515, 29}, {3, 1031, 7}, {193, 65, 97},
        };
        Stream.Builder<Arguments> b = Stream.builder();
        for (int[] x : s) {
            for (Layout l : Layout.values()) {
                b.add(Arguments.of(l, x[0], x[1], x[2]));
            }
        }
        return b.build();
    }

    static RandomGenerator rng(long seed) {
        return RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
    }

    static float[] random(RandomGenerator r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /** A(i,p), B(p,j) for the layout, read from arrays at offsets. */
    static float aAt(Layout l, float[] a, int off, int m, int k, int i, int p) {
        return l == Layout.TN ? a[off + p * m + i] : a[off + i * k + p];
    }

    static float bAt(Layout l, float[] b, int off, int n, int k, int p, int j) {
        return l == Layout.NT ? b[off + j * k + p] : b[off + p * n + j];
    }

    static void gemm(Layout l, float[] a, int aOff, float[] b, int bOff, float[] c, int cOff, int m, int n, int k,
                     boolean acc) {
        switch (l) {
            case NT -> FloatGemm.matmulNT(a, aOff, b, bOff, c, cOff, m, n, k, acc);
            case NN -> FloatGemm.matmulNN(a, aOff, b, bOff, c, cOff, m, n, k, acc);
            case TN -> FloatGemm.matmulTN(a, aOff, b, bOff, c, cOff, m, n, k, acc);
        }
    }

    static void reference(Layout l, float[] a, int aOff, float[] b, int bOff, float[] c, int cOff, int m, int n,
                          int k, boolean acc) {
        switch (l) {
            case NT -> FloatGemmReference.matmulNT(a, aOff, b, bOff, c, cOff, m, n, k, acc);
            case NN -> FloatGemmReference.matmulNN(a, aOff, b, bOff, c, cOff, m, n, k, acc);
            case TN -> FloatGemmReference.matmulTN(a, aOff, b, bOff, c, cOff, m, n, k, acc);
        }
    }

    @ParameterizedTest(name = "{0} m={1} n={2} k={3}")
    @MethodSource("shapes")
    void matchesDoublePrecisionProduct(Layout l, int m, int n, int k) {
        RandomGenerator r = rng(31L * m + 17L * n + k + l.ordinal());
        int aOff = 3;
        int bOff = 5;
        int cOff = 7;
        float[] a = random(r, aOff + m * k + 2);
        float[] b = random(r, bOff + n * k + 1);
        for (boolean acc : new boolean[] {false, true}) {
            float[] c = random(r, cOff + m * n + 4);
            float[] before = c.clone();
            gemm(l, a, aOff, b, bOff, c, cOff, m, n, k, acc);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double exact = acc ? before[cOff + i * n + j] : 0.0;
                    double abs = Math.abs(exact);
                    for (int p = 0; p < k; p++) {
                        double t = (double) aAt(l, a, aOff, m, k, i, p) * bAt(l, b, bOff, n, k, p, j);
                        exact += t;
                        abs += Math.abs(t);
                    }
                    // A chain of k fused multiply-adds rounds once per step (k+1 with the old C), each
                    // rounding off by at most u = 2^-24 of the running sum, which is at most Σ|terms|:
                    // |error| ≤ γ(k+1)·Σ|terms|, γ(n) = n·u/(1 − n·u) (Higham, Accuracy and Stability, 3.1).
                    double u = 0x1p-24;
                    double bound = (k + 1) * u / (1 - (k + 1) * u) * abs;
                    float got = c[cOff + i * n + j];
                    if (!(Math.abs(got - exact) <= bound)) {
                        throw new AssertionError(l + " C[" + i + "," + j + "] = " + got + " but exact " + exact
                                + " ± " + bound);
                    }
                }
            }
            // Nothing outside C was written.
            for (int t = 0; t < cOff; t++) {
                assertEquals(before[t], c[t]);
            }
            for (int t = cOff + m * n; t < c.length; t++) {
                assertEquals(before[t], c[t]);
            }
        }
    }

    @Tag("kernel")
    @ParameterizedTest(name = "{0} m={1} n={2} k={3}")
    @MethodSource("shapes")
    void equalsScalarTwinBitForBit(Layout l, int m, int n, int k) {
        RandomGenerator r = rng(7L * m + 3L * n + 11L * k + l.ordinal());
        float[] a = random(r, 2 + m * k);
        float[] b = random(r, 1 + n * k);
        // Adversarial values: signed zeros, subnormals, huge values that overflow to infinity.
        float[] specials = {0f, -0f, Float.MIN_VALUE, -Float.MIN_NORMAL / 3, 1e30f, -3e38f, 1e-30f};
        for (int t = 0; t < a.length; t += 7) {
            a[t] = specials[(t / 7) % specials.length];
        }
        for (int t = 0; t < b.length; t += 11) {
            b[t] = specials[(t / 11 + 3) % specials.length];
        }
        for (boolean acc : new boolean[] {false, true}) {
            float[] c = random(r, 4 + m * n);
            float[] expected = c.clone();
            gemm(l, a, 2, b, 1, c, 4, m, n, k, acc);
            reference(l, a, 2, b, 1, expected, 4, m, n, k, acc);
            assertArrayEquals(expected, c, () -> l + " accumulate=" + acc);
        }
    }

    @Tag("kernel")
    @Test
    void nanAndInfinityPropagateLikeTheReference() {
        RandomGenerator r = rng(99);
        int m = 19;
        int n = 70;
        int k = 45;
        float[] a = random(r, m * k);
        float[] b = random(r, n * k);
        a[5] = Float.NaN;
        a[3 * k + 2] = Float.POSITIVE_INFINITY;
        b[7] = Float.NEGATIVE_INFINITY;
        for (Layout l : Layout.values()) {
            float[] c = new float[m * n];
            float[] expected = new float[m * n];
            gemm(l, a, 0, b, 0, c, 0, m, n, k, false);
            reference(l, a, 0, b, 0, expected, 0, m, n, k, false);
            assertArrayEquals(expected, c, l::name);
        }
    }

    /**
     * The split along M (B packed once into a shared buffer, row pieces handed out one at a time):
     * tall shapes with several column blocks (n above the 512-column block), a row count that is not
     * a multiple of the 6-row tile, offsets, and every accumulation mode, equal to the reference bit
     * for bit at 1, 2 and 3 threads (3 threads: pieces end at different tiles than with 2).
     */
    @Test
    void rowSplitEqualsTheReference() {
        int before = Gemm.threads();
        try {
            RandomGenerator r = rng(77);
            int m = 1201;
            int n = 530;
            int k = 37;
            assertTrue((long) m * n * k >= GemmEngine.PARALLEL_MIN);
            assertTrue(m >= n && n > GemmEngine.NC, "tall, with at least two column blocks");
            float[] a = random(r, 3 + m * k);
            float[] b = random(r, 5 + n * k);
            float[] c0 = random(r, 2 + m * n);
            for (Layout l : Layout.values()) {
                for (boolean acc : new boolean[] {false, true}) {
                    float[] expected = c0.clone();
                    reference(l, a, 3, b, 5, expected, 2, m, n, k, acc);
                    for (int threads : new int[] {1, 2, 3}) {
                        Gemm.setThreads(threads);
                        float[] c = c0.clone();
                        gemm(l, a, 3, b, 5, c, 2, m, n, k, acc);
                        assertArrayEquals(expected, c, l + " acc=" + acc + " with " + threads + " threads");
                    }
                }
            }
        } finally {
            Gemm.setThreads(before);
        }
    }

    @Test
    void identicalForAnyThreadCountAndAcrossCalls() {
        int before = Gemm.threads();
        try {
            RandomGenerator r = rng(2024);
            int m = 157;
            int n = 203;
            int k = 811;
            assertTrue((long) m * n * k >= GemmEngine.PARALLEL_MIN);
            float[] a = random(r, m * k);
            float[] b = random(r, n * k);
            for (Layout l : Layout.values()) {
                float[] first = null;
                for (int threads : new int[] {1, 2, 3, 1, 3}) {
                    Gemm.setThreads(threads);
                    float[] c = new float[m * n];
                    gemm(l, a, 0, b, 0, c, 0, m, n, k, false);
                    if (first == null) {
                        first = c;
                    } else {
                        assertArrayEquals(first, c, l + " with " + threads + " threads");
                    }
                }
                // Tall-and-thin and short-and-wide shapes split the other way.
                for (int[] s : new int[][] {{3, 900, 700}, {900, 5, 700}}) {
                    // Large enough to be split (smaller problems run on the calling thread).
                    assertTrue((long) s[0] * s[1] * s[2] >= GemmEngine.PARALLEL_MIN);
                    float[] x = random(r, s[0] * s[2]);
                    float[] y = random(r, s[1] * s[2]);
                    Gemm.setThreads(1);
                    float[] one = new float[s[0] * s[1]];
                    gemm(l, x, 0, y, 0, one, 0, s[0], s[1], s[2], false);
                    Gemm.setThreads(3);
                    float[] three = new float[s[0] * s[1]];
                    gemm(l, x, 0, y, 0, three, 0, s[0], s[1], s[2], false);
                    assertArrayEquals(one, three, l + " " + Arrays.toString(s));
                }
            }
        } finally {
            Gemm.setThreads(before);
        }
    }

    @Test
    void emptyReductionWritesZerosOrLeavesC() {
        for (Layout l : Layout.values()) {
            float[] c = {1f, 2f, 3f, 4f, 5f, 6f};
            gemm(l, new float[0], 0, new float[0], 0, c, 0, 2, 3, 0, true);
            assertArrayEquals(new float[] {1f, 2f, 3f, 4f, 5f, 6f}, c);
            gemm(l, new float[0], 0, new float[0], 0, c, 0, 2, 3, 0, false);
            assertArrayEquals(new float[6], c);
            gemm(l, new float[0], 0, new float[12], 0, c, 0, 0, 3, 4, false);
            assertArrayEquals(new float[6], c);
        }
    }

    @Test
    void rejectsBadArgumentsNamingTheOperand() {
        float[] a = new float[12];
        float[] b = new float[12];
        float[] c = new float[9];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FloatGemm.matmulNT(a, 1, b, 0, c, 0, 3, 3, 4, false));
        assertEquals("A [3, 4] at offset 1 needs 12 elements but the array has 12", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> FloatGemm.matmulNN(a, 0, b, 0, c, 0, 3, 4, 4, false));
        assertEquals("B [4, 4] at offset 0 needs 16 elements but the array has 12", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> FloatGemm.matmulTN(a, 0, b, 0, c, 0, 3, 4, 3, false));
        assertEquals("C [3, 4] at offset 0 needs 12 elements but the array has 9", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> FloatGemm.matmulNT(a, 0, b, 0, c, 0, -1, 3, 4, false));
        assertEquals("A has negative shape [-1, 4]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> FloatGemm.matmulNT(a, -2, b, 0, c, 0, 1, 1, 1, false));
        assertEquals("A [1, 1] at offset -2 needs 1 elements but the array has 12", e.getMessage());
        NullPointerException npe = assertThrows(NullPointerException.class,
                () -> FloatGemm.matmulNT(a, 0, null, 0, c, 0, 1, 1, 1, false));
        assertEquals("B", npe.getMessage());
    }

    @Test
    void threadSettingIsValidated() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Gemm.setThreads(0));
        assertEquals("thread count must be at least 1; got 0", e.getMessage());
        assertTrue(Gemm.threads() >= 1);
    }

    @Test
    void parallelForVisitsEveryIndexOnce() {
        int before = Gemm.threads();
        try {
            Gemm.setThreads(3);
            int[] hits = new int[1000];
            Gemm.parallelFor(hits.length, i -> hits[i]++);
            int[] ones = new int[1000];
            Arrays.fill(ones, 1);
            assertArrayEquals(ones, hits);
        } finally {
            Gemm.setThreads(before);
        }
    }
}
