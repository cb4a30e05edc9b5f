package dev.fp4.core.gemm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import java.util.List;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class Fp4GemmTest {

    enum Layout { NT, NN, TN }

    /** (m, n, k): 1, primes, sizes off every tile, vector, block (16, 32) and reduction block (384). */
    static final int[][] SHAPES = {
        {1, 1, 1}, {1, 5, 33}, {7, 1, 17}, {13, 29, 31}, {67, 97, 50}, {6, 64, 384}, {30, 70, 401},
        {101, 131, 777}, {5, 530, 47},
    };

    static RandomGenerator rng(long seed) {
        return RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
    }

    /** Gaussian values with rows and columns of very different magnitudes, so scales differ. */
    static float[] data(RandomGenerator r, int rows, int cols) {
        float[] x = new float[rows * cols];
        float[] colScale = new float[cols];
        for (int j = 0; j < cols; j++) {
            colScale[j] = (float) Math.scalb(1 + r.nextDouble(), r.nextInt(-3, 4));
        }
        for (int i = 0; i < rows; i++) {
            float rowScale = (float) Math.scalb(1 + r.nextDouble(), r.nextInt(-4, 5));
            for (int j = 0; j < cols; j++) {
                x[i * cols + j] = (float) r.nextGaussian() * rowScale * colScale[j];
            }
        }
        return x;
    }

    /** Stored shape of each operand for a layout: A is [m,k] or [k,m], B is [n,k] or [k,n]. */
    static int[] aShape(Layout l, int m, int k) {
        return l == Layout.TN ? new int[] {k, m} : new int[] {m, k};
    }

    static int[] bShape(Layout l, int n, int k) {
        return l == Layout.NT ? new int[] {n, k} : new int[] {k, n};
    }

    static float aAt(Layout l, float[] a, int m, int k, int i, int p) {
        return l == Layout.TN ? a[p * m + i] : a[i * k + p];
    }

    static float bAt(Layout l, float[] b, int n, int k, int p, int j) {
        return l == Layout.NT ? b[j * k + p] : b[p * n + j];
    }

    static void fp4(Layout l, Fp4Tensor a, Fp4Tensor b, float[] c, int cOff, boolean acc) {
        switch (l) {
            case NT -> Fp4Gemm.matmulNT(a, b, c, cOff, acc);
            case NN -> Fp4Gemm.matmulNN(a, b, c, cOff, acc);
            case TN -> Fp4Gemm.matmulTN(a, b, c, cOff, acc);
        }
    }

    /** Double-precision product of two dequantized operands, per element (exact for these sizes). */
    static double[][] exactProduct(Layout l, float[] a, float[] b, int m, int n, int k, double[][] absSum) {
        double[][] d = new double[m][n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                double t = 0;
                for (int p = 0; p < k; p++) {
                    double v = (double) aAt(l, a, m, k, i, p) * bAt(l, b, n, k, p, j);
                    s += v;
                    t += Math.abs(v);
                }
                d[i][j] = s;
                if (absSum != null) {
                    absSum[i][j] = t;
                }
            }
        }
        return d;
    }

    /** Scheme pairs whose scales both span the reduction, so the GeMM is exact (section 5). */
    static Stream<Arguments> factoredCases() {
        Stream.Builder<Arguments> out = Stream.builder();
        for (int[] s : SHAPES) {
            out.add(Arguments.of(Layout.NT, Fp4Scheme.perRow(), Fp4Scheme.perRow(), s[0], s[1], s[2]));
            out.add(Arguments.of(Layout.NT, Fp4Scheme.perTensor(), Fp4Scheme.perRow(), s[0], s[1], s[2]));
            out.add(Arguments.of(Layout.NN, Fp4Scheme.perRow(), Fp4Scheme.perColumn(), s[0], s[1], s[2]));
            out.add(Arguments.of(Layout.TN, Fp4Scheme.perColumn(), Fp4Scheme.perTensor(), s[0], s[1], s[2]));
        }
        return out.build();
    }

    @ParameterizedTest(name = "{0} {1}×{2} m={3} n={4} k={5}")
    @MethodSource("factoredCases")
    void factoredSchemesGiveTheExactProductRoundedOnce(Layout l, Fp4Scheme sa, Fp4Scheme sb, int m, int n, int k) {
        RandomGenerator r = rng(1000L * m + 10L * n + k + l.ordinal());
        int[] as = aShape(l, m, k);
        int[] bs = bShape(l, n, k);
        Fp4Tensor a = Fp4Tensor.quantize(data(r, as[0], as[1]), as[0], as[1], sa);
        Fp4Tensor b = Fp4Tensor.quantize(data(r, bs[0], bs[1]), bs[0], bs[1], sb);
        double[][] exact = exactProduct(l, a.dequantize(), b.dequantize(), m, n, k, null);
        int cOff = 3;
        float[] c = new float[cOff + m * n + 2];
        fp4(l, a, b, c, cOff, false);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                // The integer-valued dot product is exact in FP32 and the power-of-two scales scale it
                // exactly, so the only rounding is the one to float: equality, 0 ulp.
                assertEquals((float) exact[i][j], c[cOff + i * n + j], l + " C[" + i + "," + j + "]");
            }
        }
        float[] before = data(r, 1, c.length);
        float[] acc = before.clone();
        fp4(l, a, b, acc, cOff, true);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                int t = cOff + i * n + j;
                assertEquals(before[t] + (float) exact[i][j], acc[t], l + " accumulate C[" + i + "," + j + "]");
            }
        }
        assertEquals(before[0], acc[0]);
        assertEquals(before[c.length - 1], acc[c.length - 1]);
    }

    /** Block-scaled (and reduction-varying vector-wise) schemes: one rounding per FMA step. */
    static Stream<Arguments> blockCases() {
        Stream.Builder<Arguments> out = Stream.builder();
        List<Fp4Scheme> blocks = List.of(Fp4Scheme.mxfp4(), Fp4Scheme.nvfp4(), Fp4Scheme.nvfp4_2d());
        for (int[] s : SHAPES) {
            for (Fp4Scheme sc : blocks) {
                for (Layout l : Layout.values()) {
                    out.add(Arguments.of(l, sc, sc, s[0], s[1], s[2]));
                }
            }
            out.add(Arguments.of(Layout.NT, Fp4Scheme.perColumn(), Fp4Scheme.perRow(), s[0], s[1], s[2]));
            out.add(Arguments.of(Layout.TN, Fp4Scheme.perRow(), Fp4Scheme.mxfp4(), s[0], s[1], s[2]));
        }
        return out.build();
    }

    @ParameterizedTest(name = "{0} {1}×{2} m={3} n={4} k={5}")
    @MethodSource("blockCases")
    void blockScaledSchemesStayWithinTheSummationBound(Layout l, Fp4Scheme sa, Fp4Scheme sb, int m, int n, int k) {
        RandomGenerator r = rng(77L * m + 5L * n + 3L * k + l.ordinal() + sa.hashCode());
        int[] as = aShape(l, m, k);
        int[] bs = bShape(l, n, k);
        Fp4Tensor a = Fp4Tensor.quantize(data(r, as[0], as[1]), as[0], as[1], sa);
        Fp4Tensor b = Fp4Tensor.quantize(data(r, bs[0], bs[1]), bs[0], bs[1], sb);
        double[][] abs = new double[m][n];
        double[][] exact = exactProduct(l, a.dequantize(), b.dequantize(), m, n, k, abs);
        float[] c = new float[m * n];
        fp4(l, a, b, c, 0, false);
        // Bound: the packed values E2M1·blockScale are exact, so every product is exact and each of
        // the k FMA steps rounds once (≤ u = 2^-24 of the running sum ≤ Σ|terms|); then the tensor
        // scales' product and the final multiply round once each, and the reference's dequantized
        // elements carry one rounding each from the tensor scale (≤ 2u on each product). Together
        // |error| ≤ γ(k + 4)·Σ|âb̂|, γ(n) = n·u/(1 − n·u) (Higham, 3.1), plus half an ulp of the
        // smallest normal for underflow in the final scaling.
        double u = 0x1p-24;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double bound = (k + 4) * u / (1 - (k + 4) * u) * abs[i][j] + Float.MIN_VALUE;
                double err = Math.abs(c[i * n + j] - exact[i][j]);
                if (!(err <= bound)) {
                    throw new AssertionError(l + " " + sa + " C[" + i + "," + j + "] = " + c[i * n + j] + " exact "
                            + exact[i][j] + " error " + err + " > " + bound);
                }
            }
        }
    }

    /**
     * The scalar twin of the engine for FP4 operands: packed values (bare E2M1 when the scale spans
     * the reduction, else E2M1·blockScale) multiplied by {@link FloatGemmReference} in the same FMA
     * order, then C = (C +) D·(outerA·outerB).
     */
    static void twin(Layout l, Fp4Tensor a, float[] af, Fp4Tensor b, float[] bf, float[] c, int m, int n, int k,
                     boolean acc) {
        boolean aK = l == Layout.TN;
        boolean bK = l != Layout.NT;
        float[] av = a != null ? values(a, aK) : af;
        float[] bv = b != null ? values(b, bK) : bf;
        float[] d = new float[m * n];
        switch (l) {
            case NT -> FloatGemmReference.matmulNT(av, 0, bv, 0, d, 0, m, n, k, false);
            case NN -> FloatGemmReference.matmulNN(av, 0, bv, 0, d, 0, m, n, k, false);
            case TN -> FloatGemmReference.matmulTN(av, 0, bv, 0, d, 0, m, n, k, false);
        }
        for (int i = 0; i < m; i++) {
            float oa = a != null ? outer(a, aK, i) : 1f;
            for (int j = 0; j < n; j++) {
                float ob = b != null ? outer(b, bK, j) : 1f;
                float v = d[i * n + j] * (oa * ob);
                c[i * n + j] = acc ? c[i * n + j] + v : v;
            }
        }
    }

    static float[] values(Fp4Tensor t, boolean kMajor) {
        boolean factored = GemmOperand.Fp4.spansReduction(t, kMajor);
        float[] v = new float[t.rows() * t.cols()];
        for (int r = 0; r < t.rows(); r++) {
            t.decodeRow(r, 0, t.cols(), v, r * t.cols(), !factored);
        }
        return v;
    }

    static float outer(Fp4Tensor t, boolean kMajor, int x) {
        if (!GemmOperand.Fp4.spansReduction(t, kMajor)) {
            return t.tensorScale();
        }
        return (kMajor ? t.scale(0, x) : t.scale(x, 0)) * t.tensorScale();
    }

    static Stream<Arguments> twinCases() {
        return Stream.concat(factoredCases(), blockCases());
    }

    @Tag("kernel")
    @ParameterizedTest(name = "{0} {1}×{2} m={3} n={4} k={5}")
    @MethodSource("twinCases")
    void equalsScalarTwinBitForBit(Layout l, Fp4Scheme sa, Fp4Scheme sb, int m, int n, int k) {
        RandomGenerator r = rng(13L * m + 7L * n + k + l.ordinal());
        int[] as = aShape(l, m, k);
        int[] bs = bShape(l, n, k);
        float[] ax = data(r, as[0], as[1]);
        float[] bx = data(r, bs[0], bs[1]);
        Fp4Tensor a = Fp4Tensor.quantize(ax, as[0], as[1], sa);
        Fp4Tensor b = Fp4Tensor.quantize(bx, bs[0], bs[1], sb);
        for (boolean acc : new boolean[] {false, true}) {
            float[] init = data(r, m, n);
            float[] got = init.clone();
            float[] want = init.clone();
            fp4(l, a, b, got, 0, acc);
            twin(l, a, null, b, null, want, m, n, k, acc);
            assertArrayEquals(want, got, l + " fp4×fp4 accumulate=" + acc);
            // Mixed forms: one operand FP32.
            got = init.clone();
            want = init.clone();
            switch (l) {
                case NT -> Fp4Gemm.matmulNT(a, bx, 0, n, got, 0, acc);
                case NN -> Fp4Gemm.matmulNN(a, bx, 0, n, got, 0, acc);
                case TN -> Fp4Gemm.matmulTN(a, bx, 0, n, got, 0, acc);
            }
            twin(l, a, null, null, bx, want, m, n, k, acc);
            assertArrayEquals(want, got, l + " fp4×fp32 accumulate=" + acc);
            got = init.clone();
            want = init.clone();
            switch (l) {
                case NT -> Fp4Gemm.matmulNT(ax, 0, m, b, got, 0, acc);
                case NN -> Fp4Gemm.matmulNN(ax, 0, m, b, got, 0, acc);
                case TN -> Fp4Gemm.matmulTN(ax, 0, m, b, got, 0, acc);
            }
            twin(l, null, ax, b, null, want, m, n, k, acc);
            assertArrayEquals(want, got, l + " fp32×fp4 accumulate=" + acc);
        }
    }

    @Test
    void identicalForAnyThreadCount() {
        int before = Gemm.threads();
        try {
            RandomGenerator r = rng(5);
            int k = 1000;
            // 150 × 170 splits along N, 601 × 130 along M (the right operand packed once, shared).
            for (int[] mn : new int[][] {{150, 170}, {601, 130}}) {
                int m = mn[0];
                int n = mn[1];
                assertTrue((long) m * n * k >= GemmEngine.PARALLEL_MIN);
                for (Fp4Scheme s : List.of(Fp4Scheme.mxfp4(), Fp4Scheme.nvfp4(), Fp4Scheme.perRow())) {
                    for (Layout l : Layout.values()) {
                        int[] as = aShape(l, m, k);
                        int[] bs = bShape(l, n, k);
                        Fp4Tensor a = Fp4Tensor.quantize(data(r, as[0], as[1]), as[0], as[1], s);
                        Fp4Tensor b = Fp4Tensor.quantize(data(r, bs[0], bs[1]), bs[0], bs[1], s);
                        float[] first = null;
                        for (int threads : new int[] {1, 2, 3, 2}) {
                            Gemm.setThreads(threads);
                            float[] c = new float[m * n];
                            fp4(l, a, b, c, 0, false);
                            if (first == null) {
                                first = c;
                            } else {
                                assertArrayEquals(first, c, m + "x" + n + " " + s + " " + l + " with " + threads + " threads");
                            }
                        }
                    }
                }
            }
        } finally {
            Gemm.setThreads(before);
        }
    }

    @Test
    void nanBlocksOfMxfp4PropagateToTheirOutputs() {
        int m = 4;
        int n = 3;
        int k = 64;
        float[] ax = new float[m * k];
        float[] bx = new float[n * k];
        java.util.Arrays.fill(ax, 1f);
        java.util.Arrays.fill(bx, 0.5f);
        ax[k + 40] = Float.NaN; // row 1, second 32-block: that block's scale is NaN
        Fp4Tensor a = Fp4Tensor.quantize(ax, m, k, Fp4Scheme.mxfp4());
        Fp4Tensor b = Fp4Tensor.quantize(bx, n, k, Fp4Scheme.mxfp4());
        float[] c = new float[m * n];
        Fp4Gemm.matmulNT(a, b, c, 0, false);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                if (i == 1) {
                    assertEquals(Float.NaN, c[i * n + j]);
                } else {
                    assertEquals(32f, c[i * n + j]);
                }
            }
        }
    }

    /** Power-of-two scale rules, factored and block-scaled, including the MX rules and the release's BF16-step rule. */
    static Stream<Arguments> powerOfTwoCases() {
        Stream.Builder<Arguments> out = Stream.builder();
        List<Fp4Scheme> schemes = List.of(Fp4Scheme.perRow(), Fp4Scheme.perColumn(), Fp4Scheme.perTensor(), Fp4Scheme.mxfp4(),
                Fp4Scheme.mxfp4().withScaleRule(dev.fp4.core.quant.ScaleRule.MX_RCEIL),
                Fp4Scheme.perRow().withScaleRule(dev.fp4.core.quant.ScaleRule.OFFICIAL_BF16));
        for (int[] s : SHAPES) {
            for (Layout l : Layout.values()) {
                for (int i = 0; i < schemes.size(); i++) {
                    out.add(Arguments.of(l, schemes.get(i), schemes.get((i + s[2]) % schemes.size()), s[0], s[1], s[2]));
                }
            }
        }
        return out.build();
    }

    /**
     * Where {@link Fp4Gemm#matchesFloatGemm} says so, the FP4 GeMM equals FloatGemm on the dequantized
     * operands bit for bit (a layer may multiply its packed operands instead of their FP32 copies),
     * with ±0 and row magnitudes from 2^−40 to 2^40 in the data.
     */
    @ParameterizedTest(name = "{0} {1}×{2} m={3} n={4} k={5}")
    @MethodSource("powerOfTwoCases")
    void powerOfTwoScalesGiveFloatGemmsBitsOnTheDequantizedOperands(Layout l, Fp4Scheme sa, Fp4Scheme sb, int m, int n, int k) {
        RandomGenerator r = rng(31L * m + 7L * n + k + 101L * l.ordinal() + sa.hashCode() + 3L * sb.hashCode());
        int[] as = aShape(l, m, k);
        int[] bs = bShape(l, n, k);
        float[] ax = data(r, as[0], as[1]);
        float[] bx = data(r, bs[0], bs[1]);
        for (int i = 0; i < as[0]; i++) {                  // rows far apart in magnitude, some zero
            int e = r.nextInt(-40, 41);
            for (int j = 0; j < as[1]; j++) {
                ax[i * as[1] + j] = i % 5 == 4 ? (j % 2 == 0 ? -0f : 0f) : Math.scalb(ax[i * as[1] + j], e);
            }
        }
        Fp4Tensor a = Fp4Tensor.quantize(ax, as[0], as[1], sa);
        Fp4Tensor b = Fp4Tensor.quantize(bx, bs[0], bs[1], sb);
        assertTrue(Fp4Gemm.matchesFloatGemm(a, b, k));
        float[] want = new float[m * n];
        float[] ad = a.dequantize();
        float[] bd = b.dequantize();
        switch (l) {
            case NT -> FloatGemm.matmulNT(ad, 0, bd, 0, want, 0, m, n, k, false);
            case NN -> FloatGemm.matmulNN(ad, 0, bd, 0, want, 0, m, n, k, false);
            case TN -> FloatGemm.matmulTN(ad, 0, bd, 0, want, 0, m, n, k, false);
        }
        float[] got = new float[m * n];
        fp4(l, a, b, got, 0, false);
        for (int t = 0; t < m * n; t++) {
            if (Float.floatToRawIntBits(want[t]) != Float.floatToRawIntBits(got[t])) {
                throw new AssertionError(l + " " + sa.name() + " x " + sb.name() + " C[" + t / n + "," + t % n + "]: FloatGemm "
                        + want[t] + ", Fp4Gemm " + got[t]);
            }
        }
    }

    @Test
    void matchesFloatGemmOnlyForPowerOfTwoScalesInTheNormalRange() {
        RandomGenerator r = rng(5);
        float[] x = data(r, 32, 64);
        Fp4Tensor perRow = Fp4Tensor.quantize(x, 32, 64, Fp4Scheme.perRow());
        assertTrue(Fp4Gemm.matchesFloatGemm(perRow, perRow, 64));
        // NVFP4: an FP32 tensor scale (and E4M3 block scales) that are not powers of two
        Fp4Tensor nv = Fp4Tensor.quantize(x, 32, 64, Fp4Scheme.nvfp4());
        assertEquals(false, Fp4Gemm.matchesFloatGemm(nv, perRow, 64));
        assertEquals(false, Fp4Gemm.matchesFloatGemm(perRow, nv, 64));
        // products below the normal range: FloatGemm's partial sums would round as subnormals
        float[] tiny = x.clone();
        for (int i = 0; i < tiny.length; i++) {
            tiny[i] = Math.scalb(tiny[i], -70);
        }
        Fp4Tensor small = Fp4Tensor.quantize(tiny, 32, 64, Fp4Scheme.perRow());
        assertTrue(Fp4Gemm.matchesFloatGemm(small, perRow, 64));
        assertEquals(false, Fp4Gemm.matchesFloatGemm(small, small, 64));
        // and above it: k·36·2^(eA+eB) could overflow
        float[] huge = x.clone();
        for (int i = 0; i < huge.length; i++) {
            huge[i] = Math.scalb(huge[i], 60);
        }
        Fp4Tensor big = Fp4Tensor.quantize(huge, 32, 64, Fp4Scheme.perRow());
        assertTrue(Fp4Gemm.matchesFloatGemm(big, perRow, 64));
        assertEquals(false, Fp4Gemm.matchesFloatGemm(big, big, 64));
        // an MX block of NaN has the NaN scale
        float[] withNaN = x.clone();
        withNaN[3] = Float.NaN;
        Fp4Tensor mx = Fp4Tensor.quantize(withNaN, 32, 64, Fp4Scheme.mxfp4());
        assertEquals(false, Fp4Gemm.matchesFloatGemm(mx, perRow, 64));
    }

    @Test
    void shapeMismatchesNameBothShapes() {
        Fp4Tensor a = Fp4Tensor.allocate(64, 128, Fp4Scheme.perRow());
        Fp4Tensor b = Fp4Tensor.allocate(32, 100, Fp4Scheme.perRow());
        float[] c = new float[64 * 128];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Fp4Gemm.matmulNT(a, b, c, 0, false));
        assertEquals("A is [64, 128] but B is [32, 100]: inner dimensions differ (A·Bᵀ needs A.cols == B.cols)",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Fp4Gemm.matmulNN(a, b, c, 0, false));
        assertEquals("A is [64, 128] but B is [32, 100]: inner dimensions differ (A·B needs A.cols == B.rows)",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Fp4Gemm.matmulTN(a, b, c, 0, false));
        assertEquals("A is [64, 128] but B is [32, 100]: inner dimensions differ (Aᵀ·B needs A.rows == B.rows)",
                e.getMessage());
        Fp4Tensor w = Fp4Tensor.allocate(200, 128, Fp4Scheme.perRow());
        e = assertThrows(IllegalArgumentException.class, () -> Fp4Gemm.matmulNT(a, w, c, 0, false));
        assertEquals("C [64, 200] at offset 0 needs 12800 elements but the array has 8192", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Fp4Gemm.matmulNT(a, new float[100], 0, 1, c, 0, false));
        assertEquals("B [1, 128] at offset 0 needs 128 elements but the array has 100", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Fp4Gemm.matmulTN(new float[10], 0, 3, a, c, 0, false));
        assertEquals("A [64, 3] at offset 0 needs 192 elements but the array has 10", e.getMessage());
    }
}
