package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DifferentiableGradientEstimatorTest {

    private static final DifferentiableGradientEstimator DGE = new DifferentiableGradientEstimator();

    /** The official kernel's outputs at x = bf16(linspace(−6, 6, 20)), BF16 (reference note §2). */
    private static final float[] OFFICIAL = {0.2002f, 0.4375f, 0.6055f, 0.2168f, 1.8359f, 0.2695f, 0.3027f,
        0.2695f, 0.2402f, 0.5781f, 0.5781f, 0.2402f, 0.2695f, 0.3027f, 0.2695f, 1.8359f, 0.2168f, 0.6055f,
        0.4375f, 0.2002f};

    /** FP32 → BF16 round to nearest even (the conversion the kernel's {@code __float2bfloat16} does). */
    static float bf16(float x) {
        int b = Float.floatToRawIntBits(x);
        b = (b + 0x7FFF + ((b >>> 16) & 1)) & 0xFFFF0000;
        return Float.intBitsToFloat(b);
    }

    /** torch.linspace in FP32: the first half counts up from start, the second half down from end. */
    static float[] torchLinspace(float start, float end, int steps) {
        float step = (end - start) / (steps - 1);
        float[] x = new float[steps];
        for (int i = 0; i < steps; i++) {
            x[i] = i < steps / 2 ? start + step * i : end - step * (steps - i - 1);
        }
        return x;
    }

    @Test
    void officialCheckValues() {
        float[] x = torchLinspace(-6f, 6f, 20);
        for (int i = 0; i < x.length; i++) {
            float xb = bf16(x[i]); // the official test feeds BF16 inputs
            float got = DGE.derivative(xb);
            // The official outputs are BF16 (printed to 4 decimals, which identifies a BF16 value since
            // BF16's relative spacing 2^-8 is far coarser than the print). Our FP32 result differs from
            // the kernel's powf/FP32 division by at most a few FP32 ulp, far below BF16's half-spacing,
            // so both round to the same BF16 number: compare exactly after rounding to BF16.
            assertEquals(bf16(OFFICIAL[i]), bf16(got), "x[" + i + "] = " + xb + " (fp32 " + got + ")");
        }
    }

    @Test
    void endsGiveOneOverKAndCentresGiveTheClip() {
        float[] lefts = {-6f, -4f, -3f, -2f, -1.5f, -1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f};
        float[] deltas = {2f, 1f, 1f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 1f, 1f, 2f};
        for (int i = 0; i < lefts.length; i++) {
            // Left end: u = 0, |v| = 1, f' = 1^(1/k-1)/k = 1/k, rounded to FP32.
            assertEquals(1f / 5f, DGE.derivative(lefts[i]), "left end " + lefts[i]);
            // Centre: |v| = 0, the power is +inf, clipped to 3.
            assertEquals(3f, DGE.derivative(lefts[i] + deltas[i] / 2), "centre of " + lefts[i]);
            // Just below the right end: |v| = 1 - 2ulp-ish, f' within an ulp-scale distance of 0.2.
            float below = Math.nextDown(lefts[i] + deltas[i]);
            assertEquals(0.2f, DGE.derivative(below), 1e-6f, "right end of interval " + lefts[i]);
        }
        assertEquals(0.2f, DGE.derivative(6f), "[4, 6] is closed");
        assertEquals(0.2f, DGE.derivative(-0f), "-0 belongs to [0, 0.5)");
    }

    @Test
    void officialEdgeBranches() {
        assertEquals(0f, DGE.derivative(Math.nextUp(6f)), "x > 6 has no interval");
        assertEquals(0f, DGE.derivative(100f));
        assertEquals(0f, DGE.derivative(Float.NaN));
        assertEquals(0f, DGE.derivative(Float.POSITIVE_INFINITY));
        assertEquals(0f, DGE.derivative(Float.NEGATIVE_INFINITY));
        // x < -6 uses [-6, -4): at -8, u = -2, v = -3, f' = 3^(-0.8)/5.
        assertEquals((float) (Math.pow(3, 1f / 5f - 1f) / 5), DGE.derivative(-8f));
        assertTrue(DGE.derivative(Math.nextDown(-6f)) > 0.19f, "just below -6 continues the first interval");
    }

    @Test
    void symmetricAboutZeroExceptTheOfficialEdges() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int i = 0; i < 100_000; i++) {
            float x = (float) rnd.nextDouble(-6.0, 6.0);
            // The intervals mirror each other: x in [l, l+δ) ↔ -x in (-l-δ, -l], with u ↔ δ-u, v ↔ -v.
            // |v| is computed from different FP32 operations on each side, so allow the rounding of
            // v (half an ulp of 1 relative to |v|, amplified by the exponent 0.8) and of the result.
            if (isEnd(x)) {
                continue; // at an interval end the two sides use different intervals (both give 0.2)
            }
            float a = DGE.derivative(x);
            float b = DGE.derivative(-x);
            float tol = (float) (4 * Math.ulp(1f) / Math.abs(vOf(x)) * a) + 2 * Math.ulp(a);
            assertEquals(a, b, tol, "x = " + x);
        }
    }

    private static boolean isEnd(float x) {
        for (float e : new float[] {-6, -4, -3, -2, -1.5f, -1, -0.5f, 0, 0.5f, 1, 1.5f, 2, 3, 4, 6}) {
            if (x == e) {
                return true;
            }
        }
        return false;
    }

    private static double vOf(float x) {
        double ax = Math.abs(x);
        double[] l = {0, 0.5, 1, 1.5, 2, 3, 4};
        double[] d = {0.5, 0.5, 0.5, 0.5, 1, 1, 2};
        for (int i = l.length - 1; i >= 0; i--) {
            if (ax >= l[i]) {
                return 2 * (ax - l[i]) / d[i] - 1;
            }
        }
        throw new AssertionError();
    }

    @Test
    void explicitValues() {
        // x = 1.25 + 0.0625: u = 0.3125, v = 0.25, f' = 0.25^(-0.8)/5 = 2^1.6/5.
        assertEquals((float) (Math.pow(2, 1.6) / 5), DGE.derivative(1.3125f), Math.ulp(0.6f));
        // x = 4.5: δ = 2, u = 0.5, v = -0.5, f' = 0.5^(-0.8)/5 = 2^0.8/5.
        assertEquals((float) (Math.pow(2, 0.8) / 5), DGE.derivative(4.5f), Math.ulp(0.3f));
    }

    @ParameterizedTest
    @ValueSource(floats = {1f, 2f, 3f, 5f, 10f})
    void kIsAParameter(float k) {
        DifferentiableGradientEstimator dge = new DifferentiableGradientEstimator(k, 3f);
        assertEquals(k, dge.k());
        assertEquals(1f / k, dge.derivative(0.5f), Math.ulp(1f / k), "ends give 1/k");
        // v = -0.5 at x = 0.625: f' = 0.5^(1/k-1)/k (k = 1: identity, f' = 1).
        double expected = Math.min(Math.pow(0.5, 1f / k - 1f) / k, 3.0);
        assertEquals((float) expected, dge.derivative(0.625f), 2 * Math.ulp((float) expected));
        assertEquals(k == 1f ? 1f : 3f, dge.derivative(0.75f), "centre");
    }

    @Test
    void largerKFlattensTheStepsNearTheGridPoints() {
        // Near a grid point (|v| close to 1) f' ~ 1/k: larger k approaches the flat staircase.
        float prev = Float.MAX_VALUE;
        for (float k : new float[] {1f, 2f, 3f, 5f, 10f}) {
            float end = new DifferentiableGradientEstimator(k, 100f).derivative(0.51f);
            assertTrue(end < prev, "k = " + k + ": " + end);
            prev = end;
        }
    }

    @Test
    void surrogateDerivativeMatchesAwayFromCentres() {
        // Central difference of the double surrogate vs f'. Truncation error h^2/6 · |f'''|: with
        // |v| >= 0.1 (where f' = 0.2|v|^-0.8 <= 1.26 < clip), |f'''| <= (2/δ)^2 · 0.8·1.8 · 0.2 · 0.1^-2.8
        // <= 16 · 1.44 · 0.2 · 631 < 3000, so with h = 1e-5 it is < 5e-8. The FP32 rounding of f'
        // (<= 1.26) adds < 2e-7, cancellation in the difference 6·2^-52/h < 1e-10. Tolerance 1e-6.
        double h = 1e-5;
        SplittableRandom rnd = new SplittableRandom(3);
        int checked = 0;
        for (int i = 0; i < 20_000; i++) {
            float x = (float) rnd.nextDouble(-7.0, 6.0);
            double v = x < -6 ? 2 * (x + 6.0) / 2 - 1 : vOf(x) * (x < 0 ? -1 : 1);
            if (Math.abs(v) < 0.1 || Math.abs(v) > 1 - 1e-4 && x >= -6) {
                continue; // near a centre (clipped) or within h of an interval end (kink in f')
            }
            double numeric = (DGE.surrogate(x + h) - DGE.surrogate(x - h)) / (2 * h);
            assertEquals(numeric, DGE.derivative(x), 1e-6, "x = " + x);
            checked++;
        }
        assertTrue(checked > 10_000, "checked " + checked);
    }

    @Test
    void surrogateTakesTheGridValuesAndIsMonotone() {
        float[] grid = {-6, -4, -3, -2, -1.5f, -1, -0.5f, 0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
        for (float g : grid) {
            assertEquals(g, DGE.surrogate(g), 1e-12, "grid point " + g);
        }
        double prev = DGE.surrogate(-6.5);
        for (double x = -6.5; x <= 6.0; x += 1e-3) {
            double s = DGE.surrogate(x);
            assertTrue(s >= prev, "monotone at " + x);
            prev = s;
        }
        assertEquals(6.0, DGE.surrogate(7.0));
    }

    @Test
    void applyInPlaceAndOutOfPlace() {
        SplittableRandom rnd = new SplittableRandom(5);
        int n = 1000;
        float[] g = new float[n + 3];
        float[] w = new float[n + 5];
        for (int i = 0; i < g.length; i++) {
            g[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextDouble(-6.5, 6.5);
        }
        float[] expected = new float[n];
        for (int i = 0; i < n; i++) {
            expected[i] = g[3 + i] * DGE.derivative(w[5 + i]);
        }
        float[] out = new float[n + 1];
        DGE.applyTo(g, 3, w, 5, out, 1, n);
        assertArrayEquals(expected, java.util.Arrays.copyOfRange(out, 1, n + 1));
        DGE.applyTo(g, 3, w, 5, n);
        assertArrayEquals(expected, java.util.Arrays.copyOfRange(g, 3, n + 3));
    }

    @Test
    void applyWithRowColumnAndTensorScales() {
        SplittableRandom rnd = new SplittableRandom(8);
        int rows = 7;
        int cols = 13;
        float[] w = new float[rows * cols];
        float[] g = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian() * 0.02f;
            g[i] = (float) rnd.nextGaussian();
        }
        float[] rowSf = new float[rows];
        float[] colSf = new float[cols];
        for (int r = 0; r < rows; r++) {
            rowSf[r] = (float) Math.scalb(1.0, 6 + r % 3);
        }
        for (int c = 0; c < cols; c++) {
            colSf[c] = (float) Math.scalb(1.0, 5 + c % 4);
        }
        float[] byRow = g.clone();
        float[] byCol = g.clone();
        float[] byTensor = g.clone();
        DGE.applyToRowScaled(byRow, 0, w, 0, rowSf, 0, rows, cols);
        DGE.applyToColumnScaled(byCol, 0, w, 0, colSf, 0, rows, cols);
        DGE.applyToScaled(byTensor, 0, w, 0, 128f, rows * cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                assertEquals(g[i] * DGE.derivative(w[i] * rowSf[r]), byRow[i]);
                assertEquals(g[i] * DGE.derivative(w[i] * colSf[c]), byCol[i]);
                assertEquals(g[i] * DGE.derivative(w[i] * 128f), byTensor[i]);
            }
        }
    }

    @Test
    void rejectsBadInputWithoutWriting() {
        float[] g = {1f, 2f, 3f};
        float[] w = {0.1f, Float.NaN, 0.3f};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DGE.applyTo(g, 0, w, 0, 3));
        assertTrue(e.getMessage().contains("scaled weight 1"), e.getMessage());
        assertArrayEquals(new float[] {1f, 2f, 3f}, g, "nothing written on failure");
        float[] w2 = {0.1f, 0.2f, 1e38f, 0.4f};
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class,
                () -> DGE.applyToRowScaled(new float[4], 0, w2, 0, new float[] {1f, 16f}, 0, 2, 2));
        assertTrue(e2.getMessage().contains("[1, 0]"), e2.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DGE.applyTo(g, 1, w, 0, 3));
        assertThrows(IllegalArgumentException.class, () -> new DifferentiableGradientEstimator(0.5f, 3f));
        assertThrows(IllegalArgumentException.class, () -> new DifferentiableGradientEstimator(Float.NaN, 3f));
        assertThrows(IllegalArgumentException.class, () -> new DifferentiableGradientEstimator(5f, 0f));
        assertThrows(IllegalArgumentException.class,
                () -> new DifferentiableGradientEstimator(5f, Float.POSITIVE_INFINITY));
    }

    @Test
    void straightThroughEstimator() {
        StraightThroughEstimator id = StraightThroughEstimator.identity();
        StraightThroughEstimator cl = StraightThroughEstimator.clipped();
        for (float x : new float[] {-7f, -6f, -0f, 0.3f, 6f, 6.5f}) {
            assertEquals(1f, id.derivative(x));
            assertEquals(Math.abs(x) <= 6f ? 1f : 0f, cl.derivative(x), "x = " + x);
        }
        float[] g = {1f, -2f, 3f, 4f};
        float[] w = {-6.5f, -6f, 6f, 7f};
        float[] out = new float[4];
        cl.applyTo(g, 0, w, 0, out, 0, 4);
        assertArrayEquals(new float[] {0f, -2f, 3f, 0f}, out);
        id.applyTo(g, 0, w, 0, out, 0, 4);
        assertArrayEquals(g, out);
        float[] g2 = g.clone();
        cl.applyToScaled(g2, 0, new float[] {1f, 1f, 2f, 3f}, 0, 2.5f, 4); // scaled 2.5, 2.5, 5, 7.5
        assertArrayEquals(new float[] {1f, -2f, 3f, 0f}, g2);
        assertThrows(IllegalArgumentException.class,
                () -> id.applyTo(g, 0, new float[] {0f, Float.POSITIVE_INFINITY, 0f, 0f}, 0, 4));
    }

    /**
     * The bulk loop equals the per-element derivative bit for bit: every interval start and end,
     * their FP32 neighbours, ±0, ±6, beyond ±6, subnormals, ±∞, NaN, and random scaled weights;
     * for several k.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(floats = {1f, 3f, 5f, 10f, 2.5f})
    void bulkDerivativesEqualTheScalarDefinition(float k) {
        DifferentiableGradientEstimator d = new DifferentiableGradientEstimator(k, 3f);
        float[] edges = {-6f, -4f, -3f, -2f, -1.5f, -1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f,
            -5f, -3.5f, -2.5f, -1.75f, -1.25f, -0.75f, -0.25f, 0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5f};
        java.util.List<Float> xs = new java.util.ArrayList<>();
        for (float e : edges) {
            xs.add(e);
            xs.add(-e);
            xs.add(Math.nextUp(e));
            xs.add(Math.nextDown(e));
        }
        for (float v : new float[] {-0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 7f, -7f, 1e30f, -1e30f,
            Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN}) {
            xs.add(v);
        }
        java.util.SplittableRandom r = new java.util.SplittableRandom(77);
        for (int i = 0; i < 20_000; i++) {
            xs.add((float) (r.nextDouble(-6.5, 6.5)));
        }
        float[] x = new float[xs.size() + 3];
        for (int i = 0; i < xs.size(); i++) {
            x[i + 3] = xs.get(i);
        }
        float[] got = new float[xs.size() + 1];
        d.derivatives(x, 3, got, 1, xs.size());
        for (int i = 0; i < xs.size(); i++) {
            float want = d.derivative(xs.get(i));
            assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[i + 1]),
                    "x = " + xs.get(i) + ": " + want + " vs " + got[i + 1]);
        }
    }
}
