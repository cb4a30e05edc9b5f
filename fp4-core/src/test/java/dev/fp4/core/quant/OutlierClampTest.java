package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.core.gemm.Gemm;
import dev.fp4.core.quant.OutlierClamp.Granularity;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class OutlierClampTest {

    private static final int[] SIZES = {1, 2, 3, 5, 16, 17, 31, 64, 65, 100, 127, 1000, 4096, 4097};

    @Test
    void quantileIndicesAreComputedInDoubleAndTruncated() {
        assertEquals(40, OutlierClamp.lowerIndex(4096, 0.99)); // (1 - 0.99)·4096 = 40.96 → 40
        assertEquals(4055, OutlierClamp.upperIndex(4096, 0.99)); // 4055.04 → 4055
        assertEquals(1, OutlierClamp.lowerIndex(100, 0.99)); // 1.0000000000000009 → 1
        assertEquals(99, OutlierClamp.upperIndex(100, 0.99)); // 0.99·100 rounds to 99.0: the maximum
        assertEquals(0, OutlierClamp.lowerIndex(100, 1.0));
        assertEquals(99, OutlierClamp.upperIndex(100, 1.0)); // ⌊1·100⌋ = 100 is capped to n - 1
        assertEquals(0, OutlierClamp.lowerIndex(1, 0.99));
        assertEquals(0, OutlierClamp.upperIndex(1, 0.99));
        assertEquals(4, OutlierClamp.lowerIndex(4096, 0.999)); // 4.096
        assertEquals(4091, OutlierClamp.upperIndex(4096, 0.999)); // 4091.904
    }

    @Test
    void validatesAlpha() {
        for (double bad : new double[] {0.5, 0.3, 1.0000001, Double.NaN, -1}) {
            assertThrows(IllegalArgumentException.class, () -> new OutlierClamp(bad, Granularity.PER_ROW));
        }
        assertEquals(1.0, new OutlierClamp(1.0, Granularity.PER_TENSOR).alpha());
        assertEquals(0.99, new OutlierClamp().alpha());
        assertEquals(Granularity.PER_ROW, new OutlierClamp().granularity());
    }

    /** What the definition says, with a full sort: the reference the selection must match. */
    static float[][] sortedBounds(float[] x, int rows, int cols, Granularity g, double alpha) {
        int groups = g == Granularity.PER_TENSOR ? 1 : g == Granularity.PER_ROW ? rows : cols;
        float[][] b = new float[2][groups];
        for (int k = 0; k < groups; k++) {
            float[] v;
            if (g == Granularity.PER_TENSOR) {
                v = x.clone();
            } else if (g == Granularity.PER_ROW) {
                v = Arrays.copyOfRange(x, k * cols, (k + 1) * cols);
            } else {
                v = new float[rows];
                for (int r = 0; r < rows; r++) {
                    v[r] = x[r * cols + k];
                }
            }
            Arrays.sort(v);
            b[0][k] = v[(int) ((1.0 - alpha) * v.length)];
            b[1][k] = v[Math.min((int) (alpha * v.length), v.length - 1)];
        }
        return b;
    }

    private static void assertSameBits(float expected, float actual, String what) {
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual),
                () -> what + ": expected " + expected + " got " + actual);
    }

    @Test
    void boundsEqualAFullSortOnEveryDataSetAndSize() {
        long seed = 1;
        for (String kind : ClampData.KINDS) {
            for (int n : SIZES) {
                for (double alpha : new double[] {0.99, 0.999, 0.97, 0.6, 1.0}) {
                    float[] x = ClampData.make(kind, n, seed++);
                    OutlierClamp oc = new OutlierClamp(alpha, Granularity.PER_TENSOR);
                    float[] lo = new float[1];
                    float[] hi = new float[1];
                    oc.bounds(x, 0, 1, n, lo, 0, hi, 0);
                    float[][] ref = sortedBounds(x, 1, n, Granularity.PER_TENSOR, alpha);
                    String what = kind + " n=" + n + " alpha=" + alpha;
                    assertSameBits(ref[0][0], lo[0], what + " lower");
                    assertSameBits(ref[1][0], hi[0], what + " upper");
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Granularity.class)
    void boundsPerGroupEqualAFullSort(Granularity g) {
        long seed = 100;
        int[][] shapes = {{1, 1}, {1, 2}, {2, 1}, {3, 7}, {17, 5}, {64, 100}, {100, 64}, {33, 129}};
        for (String kind : ClampData.KINDS) {
            for (int[] s : shapes) {
                float[] x = ClampData.make(kind, s[0] * s[1], seed++);
                OutlierClamp oc = new OutlierClamp(0.99, g);
                int groups = oc.groups(s[0], s[1]);
                float[] lo = new float[groups + 2];
                float[] hi = new float[groups + 1];
                float[] padded = new float[x.length + 3];
                System.arraycopy(x, 0, padded, 3, x.length);
                oc.bounds(padded, 3, s[0], s[1], lo, 2, hi, 1);
                float[][] ref = sortedBounds(x, s[0], s[1], g, 0.99);
                for (int k = 0; k < groups; k++) {
                    String what = kind + " " + Arrays.toString(s) + " group " + k;
                    assertSameBits(ref[0][k], lo[2 + k], what + " lower");
                    assertSameBits(ref[1][k], hi[1 + k], what + " upper");
                }
            }
        }
    }

    @Test
    void selectionReturnsEveryRankOfSmallArrays() {
        SplittableRandom r = new SplittableRandom(9);
        for (int n = 1; n <= 80; n++) {
            for (int budget : new int[] {OutlierClamp.BAD_STEP_BUDGET, -1}) {
                int[] keys = new int[n];
                for (int i = 0; i < n; i++) {
                    keys[i] = (n % 3 == 0) ? r.nextInt(4) : r.nextInt();
                }
                int[] sorted = keys.clone();
                Arrays.sort(sorted);
                int[] work = new int[n + n / 4 + 16];
                for (int rank = 0; rank < n; rank++) {
                    System.arraycopy(keys, 0, work, 0, n);
                    assertEquals(sorted[rank], OutlierClamp.select(work, 0, n, rank, n, budget),
                            "n=" + n + " rank=" + rank + " budget=" + budget);
                }
            }
        }
    }

    @Test
    void selectionReturnsEveryRankOfLargeArrays() {
        // Large enough for the sampled first pivot; every rank, so the pivot falls on both sides.
        long seed = 60;
        for (String kind : new String[] {"gaussian", "duplicates", "organPipe", "heavyTailed"}) {
            int n = 700;
            float[] x = ClampData.make(kind, n, seed++);
            int[] keys = new int[n];
            for (int i = 0; i < n; i++) {
                keys[i] = ClampKernels.key(x[i]);
            }
            int[] sorted = keys.clone();
            Arrays.sort(sorted);
            int[] work = new int[n + n / 4 + 16];
            for (int rank = 0; rank < n; rank++) {
                System.arraycopy(keys, 0, work, 0, n);
                assertEquals(sorted[rank], OutlierClamp.select(work, 0, n, rank, n, OutlierClamp.BAD_STEP_BUDGET),
                        kind + " rank " + rank);
            }
        }
    }

    @Test
    void medianOfMediansPathEqualsTheSortOnLargeAdversarialData() {
        // Budget -1 makes every pivot a median of medians (the worst-case-linear fallback).
        long seed = 40;
        for (String kind : ClampData.KINDS) {
            for (int n : new int[] {100, 1000, 4097}) {
                float[] x = ClampData.make(kind, n, seed++);
                int[] keys = new int[n];
                for (int i = 0; i < n; i++) {
                    keys[i] = ClampKernels.key(x[i]);
                }
                int[] sorted = keys.clone();
                Arrays.sort(sorted);
                int[] work = new int[n + n / 4 + 16];
                for (int rank : new int[] {0, 1, n / 100, n / 2, n - 1 - n / 100, n - 1}) {
                    System.arraycopy(keys, 0, work, 0, n);
                    assertEquals(sorted[rank], OutlierClamp.select(work, 0, n, rank, n, -1), kind + " " + rank);
                }
            }
        }
    }

    @Test
    void medianOfFiveOnAllSmallTuples() {
        int[] v = new int[5];
        for (int code = 0; code < 3125; code++) {
            int c = code;
            for (int i = 0; i < 5; i++) {
                v[i] = c % 5;
                c /= 5;
            }
            int[] s = v.clone();
            Arrays.sort(s);
            assertEquals(s[2], OutlierClamp.median5(v[0], v[1], v[2], v[3], v[4]), Arrays.toString(v));
        }
    }

    @ParameterizedTest
    @EnumSource(Granularity.class)
    void clampAndResidualMatchTheDefinition(Granularity g) {
        long seed = 500;
        int[][] shapes = {{1, 1}, {3, 7}, {17, 33}, {64, 100}, {5, 257}};
        for (String kind : ClampData.KINDS) {
            for (int[] s : shapes) {
                int rows = s[0];
                int cols = s[1];
                float[] x = ClampData.make(kind, rows * cols, seed++);
                float[][] ref = sortedBounds(x, rows, cols, g, 0.97);
                OutlierClamp oc = new OutlierClamp(0.97, g);
                float[] out = new float[x.length];
                CsrMatrix res = new CsrMatrix(0, 0);
                int count = oc.clamp(x, 0, rows, cols, out, 0, res);
                float[] dense = new float[x.length];
                int expectedCount = 0;
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        int k = g == Granularity.PER_TENSOR ? 0 : g == Granularity.PER_ROW ? r : c;
                        int i = r * cols + c;
                        float v = x[i];
                        float xc = v < ref[0][k] ? ref[0][k] : v > ref[1][k] ? ref[1][k] : v;
                        assertSameBits(xc, out[i], kind + " " + Arrays.toString(s) + " at " + i);
                        if (xc != v) {
                            expectedCount++;
                            dense[i] = v - xc;
                        }
                    }
                }
                assertEquals(expectedCount, count);
                assertEquals(count, res.nnz());
                assertTrue(res.isComplete());
                assertTrue(count <= oc.maxClamped(rows, cols));
                assertArrayEquals(dense, res.toDense());
                for (int i = 0; i < res.nnz(); i++) {
                    assertNotEquals(0f, res.values()[i], "only non-zeros are stored");
                }
            }
        }
    }

    @Test
    void densityIsTwiceOneMinusAlphaOnGaussianRows() {
        // Distinct values: exactly lowerIndex values lie below s[lowerIndex] and n-1-upperIndex above
        // s[upperIndex], so per row (40 + 40) / 4096 = 1.95% ≈ 2(1 - 0.99) (paper: 0.2%, 2%, 6%).
        int rows = 8;
        int cols = 4096;
        float[] x = ClampData.make("gaussian", rows * cols, 77);
        for (double alpha : new double[] {0.999, 0.99, 0.97}) {
            OutlierClamp oc = new OutlierClamp(alpha, Granularity.PER_ROW);
            CsrMatrix res = new CsrMatrix(rows, cols);
            int count = oc.clamp(x, 0, rows, cols, new float[x.length], 0, res);
            int perRow = OutlierClamp.lowerIndex(cols, alpha) + cols - 1 - OutlierClamp.upperIndex(cols, alpha);
            assertEquals((long) rows * perRow, count, "alpha " + alpha);
            assertEquals(oc.maxClamped(rows, cols), count, "distinct values reach the bound");
            assertEquals(2 * (1 - alpha), res.density(), 0.05 * 2 * (1 - alpha) + 1.0 / cols, "alpha " + alpha);
        }
    }

    @ParameterizedTest
    @EnumSource(Granularity.class)
    void clampsSharingScratchGiveWhatTheirOwnScratchGives(Granularity g) {
        // Two clamps on one scratch, called alternately on shapes of different sizes (the larger
        // group grows the shared buffers, the smaller then runs in them), with 1 and 2 threads:
        // the clamped values, residual and count equal those of a clamp with its own scratch.
        int[][] shapes = {{64, 1024}, {8, 100}, {300, 700}, {3, 17}};
        int saved = Gemm.threads();
        try {
            for (int threads : new int[] {1, 2}) {
                Gemm.setThreads(threads);
                OutlierClamp first = new OutlierClamp(0.99, g);
                OutlierClamp second = new OutlierClamp(0.97, g).shareScratchWith(first);
                for (int i = 0; i < 2 * shapes.length; i++) {
                    OutlierClamp shared = i % 2 == 0 ? first : second;
                    double alpha = i % 2 == 0 ? 0.99 : 0.97;
                    int rows = shapes[i % shapes.length][0];
                    int cols = shapes[i % shapes.length][1];
                    float[] x = ClampData.make(i % 3 == 0 ? "heavyTailed" : "gaussian", rows * cols, 100 + i);
                    float[] got = new float[x.length];
                    float[] want = new float[x.length];
                    CsrMatrix gotResidual = new CsrMatrix(rows, cols);
                    CsrMatrix wantResidual = new CsrMatrix(rows, cols);
                    int count = shared.clamp(x, 0, rows, cols, got, 0, gotResidual);
                    int wantCount = new OutlierClamp(alpha, g).clamp(x, 0, rows, cols, want, 0, wantResidual);
                    String at = g + ", " + threads + " threads, call " + i + " [" + rows + ", " + cols + "]";
                    assertEquals(wantCount, count, at);
                    assertArrayEquals(want, got, at);
                    assertArrayEquals(wantResidual.toDense(), gotResidual.toDense(), at);
                }
            }
        } finally {
            Gemm.setThreads(saved);
        }
    }

    @Test
    void residualReconstructsTheInput() {
        // Each residual d = fl(x - c) is the correctly rounded difference, so the exact sum c + d is
        // within half an ulp of d from x, and the FP32 sum fl(c + d) equals x whenever x - c is representable
        // (Sterbenz: same sign and |x| <= 2|c|). Checked on Gaussian and heavy-tailed data.
        for (String kind : new String[] {"gaussian", "heavyTailed", "duplicates"}) {
            int rows = 32;
            int cols = 512;
            float[] x = ClampData.make(kind, rows * cols, 5);
            float[] xc = new float[x.length];
            CsrMatrix res = new CsrMatrix(rows, cols);
            new OutlierClamp(0.97, Granularity.PER_ROW).clamp(x, 0, rows, cols, xc, 0, res);
            float[] d = res.toDense();
            for (int i = 0; i < x.length; i++) {
                double exactSum = (double) xc[i] + d[i]; // exact: both are floats of nearby binades
                assertTrue(Math.abs(exactSum - x[i]) <= Math.ulp(d[i]) / 2, kind + " at " + i);
                boolean sterbenz = Math.signum(x[i]) == Math.signum(xc[i]) && Math.abs(x[i]) <= 2 * Math.abs(xc[i]);
                if (d[i] == 0f || sterbenz) {
                    // Numeric equality: an unclamped -0 comes back as -0 + 0 = +0.
                    assertTrue(x[i] == xc[i] + d[i], kind + " at " + i + ": " + x[i] + " vs " + (xc[i] + d[i]));
                }
            }
        }
    }

    @Test
    void fp32CannotAlwaysHoldTheExactResidual() {
        // Why the identity above is not claimed bit-exact for every element: an outlier 127x its bound.
        float x = 50.36285f;
        float c = 0.39736748f;
        float d = x - c;
        assertNotEquals(x, c + d);
        assertTrue(Math.abs(((double) c + d) - x) <= Math.ulp(d) / 2);
    }

    @ParameterizedTest
    @EnumSource(Granularity.class)
    void compensationRecoversTheUnclampedProduct(Granularity g) {
        // Q-free compensation: X_c·Wᵀ + ΔX·Wᵀ vs X·Wᵀ, all FP32 with fma chains over k. Each product
        // is within γ_k·Σ_p|a_p||w_p| of its exact value (γ_k = k·u/(1 - k·u), u = 2^-24); the final
        // addition adds u·|result|, and splitting x = x_c + Δ costs at most ulp(Δ)/2 <= u·|Δ| per element
        // (see residualReconstructsTheInput). With S = Σ_p (|x_p| + |x_c,p| + |Δ_p|)|w_p| the
        // difference is below (2γ_k + 2u)·S.
        int m = 24;
        int k = 300;
        int n = 20;
        float[] x = ClampData.make("heavyTailed", m * k, 21);
        float[] w = ClampData.make("gaussian", n * k, 22);
        float[] xc = new float[x.length];
        CsrMatrix res = new CsrMatrix(m, k);
        new OutlierClamp(0.99, g).clamp(x, 0, m, k, xc, 0, res);
        float[] direct = new float[m * n];
        FloatGemm.matmulNT(x, 0, w, 0, direct, 0, m, n, k, false);
        float[] comp = new float[m * n];
        FloatGemm.matmulNT(xc, 0, w, 0, comp, 0, m, n, k, false);
        res.multiplyNT(w, 0, n, comp, 0, true);
        float[] d = res.toDense();
        double u = Math.scalb(1.0, -24);
        double gamma = k * u / (1 - k * u);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += (Math.abs(x[i * k + p]) + Math.abs(xc[i * k + p]) + Math.abs(d[i * k + p]))
                            * Math.abs(w[j * k + p]);
                }
                assertEquals(direct[i * n + j], comp[i * n + j], (2 * gamma + 2 * u) * s, "C[" + i + "," + j + "]");
            }
        }
    }

    @Test
    void inPlaceEqualsOutOfPlaceAndReusesBuffers() {
        int rows = 16;
        int cols = 200;
        float[] x = ClampData.make("heavyTailed", rows * cols, 8);
        OutlierClamp oc = new OutlierClamp(0.99, Granularity.PER_ROW);
        float[] out = new float[x.length];
        CsrMatrix res = new CsrMatrix(rows, cols, (int) oc.maxClamped(rows, cols));
        int[] colIdx = res.colIdx();
        oc.clamp(x, 0, rows, cols, out, 0, res);
        float[] inPlace = x.clone();
        CsrMatrix res2 = new CsrMatrix(rows, cols);
        oc.clamp(inPlace, 0, rows, cols, inPlace, 0, res2);
        assertArrayEquals(out, inPlace);
        assertArrayEquals(res.toDense(), res2.toDense());
        assertSame(colIdx, res.colIdx(), "capacity sized up front is kept");
        oc.clamp(x, 0, rows, cols, out, 0, res);
        assertSame(colIdx, res.colIdx(), "a second step allocates no residual storage");
        float[] copy = x.clone();
        assertEquals(oc.clamp(x, 0, rows, cols, out, 0, null), oc.clamp(copy, 0, rows, cols));
        assertArrayEquals(out, copy);
    }

    @Test
    void rejectsNonFiniteInputNamingItAndWritesNothing() {
        for (Granularity g : Granularity.values()) {
            for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                float[] x = ClampData.make("gaussian", 6 * 40, 3);
                x[4 * 40 + 37] = bad;
                float[] before = x.clone();
                CsrMatrix res = new CsrMatrix(6, 40);
                OutlierClamp oc = new OutlierClamp(0.9, g);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> oc.clamp(x, 0, 6, 40, x, 0, res));
                assertTrue(e.getMessage().contains("[4, 37]"), g + ": " + e.getMessage());
                assertArrayEquals(before, x, "in-place clamp wrote before failing");
            }
        }
    }

    @Test
    void rejectsBadShapesAndOverlap() {
        OutlierClamp oc = new OutlierClamp();
        float[] x = new float[12];
        assertThrows(IllegalArgumentException.class, () -> oc.clamp(x, 0, 3, 5, new float[15], 0, null));
        assertThrows(IllegalArgumentException.class, () -> oc.clamp(x, 0, -1, 5, x, 0, null));
        assertThrows(IllegalArgumentException.class, () -> oc.clamp(x, 0, 2, 5, x, 1, null));
        assertThrows(IllegalArgumentException.class, () -> oc.bounds(x, 0, 3, 0, new float[3], 0, new float[3], 0));
        assertThrows(IllegalArgumentException.class, () -> oc.bounds(x, 0, 3, 4, new float[2], 0, new float[3], 0));
        CsrMatrix res = new CsrMatrix(0, 0);
        assertEquals(0, oc.clamp(x, 0, 3, 0, x, 0, res));
        assertEquals(3, res.rows());
        assertTrue(res.isComplete());
    }

    // ---- the band pass and the parallel split --------------------------------------------------------

    private static final double[] ALPHAS = {0.97, 0.99, 0.999, 1.0};

    private static String[] allKinds() {
        return Stream.concat(Stream.of(ClampData.KINDS), Stream.of(ClampData.BAND_KINDS)).toArray(String[]::new);
    }

    /** Tagged: the build re-runs it at every vector width (the band pass and compactions are kernels). */
    @Test
    @Tag("kernel")
    void bandPassBoundsEqualAFullSortOnEverySize() {
        // bandMin 8: every group of 8 or more values takes the band pass (the public default is 8192).
        long seed = 3000;
        int misses = 0;
        int runs = 0;
        for (String kind : allKinds()) {
            for (int n = 1; n <= 5000; n += n < 40 ? 1 : n < 300 ? 7 : 173) {
                for (double alpha : ALPHAS) {
                    float[] x = ClampData.make(kind, n, seed++);
                    OutlierClamp oc = new OutlierClamp(alpha, Granularity.PER_TENSOR, 8, 1 << 15);
                    float[] lo = new float[1];
                    float[] hi = new float[1];
                    oc.bounds(x, 0, 1, n, lo, 0, hi, 0);
                    float[][] ref = sortedBounds(x, 1, n, Granularity.PER_TENSOR, alpha);
                    String what = kind + " n=" + n + " alpha=" + alpha;
                    assertSameBits(ref[0][0], lo[0], what + " lower");
                    assertSameBits(ref[1][0], hi[0], what + " upper");
                    misses += oc.bandMisses();
                    runs += n >= 8 ? 1 : 0;
                }
            }
        }
        // Both paths ran: most groups are answered from the bands, some fell back.
        assertTrue(misses > 0 && misses < runs / 4, misses + " fallbacks in " + runs + " band passes");
    }

    @Test
    @Tag("kernel")
    void fallbackRunsWhenTheSampleIsMisled() {
        int n = 40_000;
        float[] x = ClampData.make("sampleAdversarial", n, 1);
        OutlierClamp oc = new OutlierClamp(0.99, Granularity.PER_TENSOR);
        float[] lo = new float[1];
        float[] hi = new float[1];
        oc.bounds(x, 0, 1, n, lo, 0, hi, 0);
        float[][] ref = sortedBounds(x, 1, n, Granularity.PER_TENSOR, 0.99);
        assertSameBits(ref[0][0], lo[0], "lower");
        assertSameBits(ref[1][0], hi[0], "upper");
        assertEquals(1, oc.bandMisses(), "every sampled key is an outlier: the lower band misses");
        float[] y = ClampData.make("outlierChannels", n, 2);
        OutlierClamp fresh = new OutlierClamp(0.99, Granularity.PER_TENSOR);
        fresh.bounds(y, 0, 1, n, lo, 0, hi, 0);
        assertEquals(0, fresh.bandMisses(), "a representative sample: both ranks inside their bands");
        float[][] refY = sortedBounds(y, 1, n, Granularity.PER_TENSOR, 0.99);
        assertSameBits(refY[0][0], lo[0], "lower");
        assertSameBits(refY[1][0], hi[0], "upper");
    }

    @Test
    void largeTensorsEqualAFullSort() {
        long seed = 7000;
        for (String kind : new String[] {"gaussian", "outlierChannels", "heavyTailed", "duplicates",
            "sampleAdversarial", "reluLike", "bf16Gaussian"}) {
            int n = 1 << 20;
            float[] x = ClampData.make(kind, n, seed++);
            for (double alpha : new double[] {0.99, 0.999}) {
                OutlierClamp oc = new OutlierClamp(alpha, Granularity.PER_TENSOR);
                float[] lo = new float[1];
                float[] hi = new float[1];
                oc.bounds(x, 0, 1024, 1024, lo, 0, hi, 0);
                float[][] ref = sortedBounds(x, 1, n, Granularity.PER_TENSOR, alpha);
                assertSameBits(ref[0][0], lo[0], kind + " " + alpha + " lower");
                assertSameBits(ref[1][0], hi[0], kind + " " + alpha + " upper");
            }
        }
    }

    /** Everything a clamp produces, as bits. */
    private record Result(int count, int[] out, int[] rowPtr, int[] colIdx, int[] values, int[] lower, int[] upper) {
        static Result of(OutlierClamp oc, float[] x, int rows, int cols) {
            float[] out = new float[x.length];
            CsrMatrix res = new CsrMatrix(0, 0);
            int count = oc.clamp(x, 0, rows, cols, out, 0, res);
            int g = oc.groups(rows, cols);
            float[] lo = new float[g];
            float[] hi = new float[g];
            oc.bounds(x, 0, rows, cols, lo, 0, hi, 0);
            return new Result(count, ClampKernelsTest.bits(out), Arrays.copyOf(res.rowPtr(), rows + 1),
                    Arrays.copyOf(res.colIdx(), res.nnz()), ClampKernelsTest.bits(Arrays.copyOf(res.values(), res.nnz())),
                    ClampKernelsTest.bits(lo), ClampKernelsTest.bits(hi));
        }

        void assertSame(Result o, String what) {
            assertEquals(count, o.count, what);
            assertArrayEquals(out, o.out, what);
            assertArrayEquals(rowPtr, o.rowPtr, what);
            assertArrayEquals(colIdx, o.colIdx, what);
            assertArrayEquals(values, o.values, what);
            assertArrayEquals(lower, o.lower, what);
            assertArrayEquals(upper, o.upper, what);
        }
    }

    @ParameterizedTest
    @EnumSource(Granularity.class)
    void resultsDoNotDependOnTheThreadCount(Granularity g) {
        int saved = Gemm.threads();
        try {
            long seed = 9000;
            int[][] shapes = {{1, 1}, {3, 7}, {37, 65}, {64, 100}, {200, 257}};
            for (String kind : allKinds()) {
                for (int[] s : shapes) {
                    float[] x = ClampData.make(kind, s[0] * s[1], seed++);
                    for (double alpha : ALPHAS) {
                        // The reference: the public instance on one thread (band pass only from 8192).
                        Gemm.setThreads(1);
                        Result ref = Result.of(new OutlierClamp(alpha, g), x, s[0], s[1]);
                        float[][] sorted = sortedBounds(x, s[0], s[1], g, alpha);
                        assertArrayEquals(ClampKernelsTest.bits(sorted[0]), ref.lower);
                        assertArrayEquals(ClampKernelsTest.bits(sorted[1]), ref.upper);
                        for (int threads = 1; threads <= 3; threads++) {
                            Gemm.setThreads(threads);
                            // Band pass from 8 values, pieces from 64 elements: every path runs.
                            Result r = Result.of(new OutlierClamp(alpha, g, 8, 64), x, s[0], s[1]);
                            ref.assertSame(r, g + " " + kind + " " + Arrays.toString(s) + " alpha " + alpha
                                    + " threads " + threads);
                        }
                    }
                }
            }
            // Default sizes: [4096, 256] splits in pieces at the public thresholds.
            float[] x = ClampData.make("outlierChannels", 4096 * 256, 5);
            Gemm.setThreads(1);
            Result ref = Result.of(new OutlierClamp(0.99, g), x, 4096, 256);
            for (int threads = 2; threads <= 3; threads++) {
                Gemm.setThreads(threads);
                ref.assertSame(Result.of(new OutlierClamp(0.99, g), x, 4096, 256), g + " threads " + threads);
            }
        } finally {
            Gemm.setThreads(saved);
        }
    }

    @ParameterizedTest
    @EnumSource(Granularity.class)
    void nonFiniteInputIsNamedTheSameWayOnEveryPath(Granularity g) {
        int saved = Gemm.threads();
        try {
            int rows = 40;
            int cols = 50;
            float[] x = ClampData.make("gaussian", rows * cols, 4);
            x[31 * cols + 2] = Float.NaN;
            x[12 * cols + 44] = Float.NEGATIVE_INFINITY; // first in row-major order
            x[35 * cols + 1] = Float.POSITIVE_INFINITY; // in the first column holding one
            float[] before = x.clone();
            String expected = switch (g) {
                case PER_TENSOR, PER_ROW -> "[12, 44]";
                case PER_COLUMN -> "[35, 1]";
            };
            for (int threads = 1; threads <= 3; threads++) {
                Gemm.setThreads(threads);
                for (OutlierClamp oc : new OutlierClamp[] {new OutlierClamp(0.99, g), new OutlierClamp(0.99, g, 8, 64)}) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> oc.clamp(x, 0, rows, cols, x, 0, new CsrMatrix(rows, cols)));
                    assertTrue(e.getMessage().contains(expected), g + " threads " + threads + ": " + e.getMessage());
                    assertArrayEquals(ClampKernelsTest.bits(before), ClampKernelsTest.bits(x), "nothing written");
                }
            }
        } finally {
            Gemm.setThreads(saved);
        }
    }
}
