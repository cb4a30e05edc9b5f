package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The exact fast path of {@link DifferentiableGradientEstimator#derivatives}: bit equality with the
 * Math.pow definition, exhaustively over every FP32 t where the result is not simply the clip, and on
 * random and adversarial scaled weights for random k.
 */
class DgeFastPathTest {

    /**
     * The analytic bound on |q − ref| / (t^e/k): the fast value's 4.3·2^-52 plus the reference's
     * 1.5·2^-52 (Math.pow's 1 ulp and the division's half ulp), rounded up to 6·2^-52.
     */
    private static final double BOUND = 6 * 0x1p-52;

    /** The reference, written out independently of the class: min((float)(t^e / k), clip). */
    private static float reference(float t, float k, float clip) {
        double e = 1f / k - 1f;
        return Math.min((float) (Math.pow(t, e) / k), clip);
    }

    /**
     * Every binade [2^b, 2^(b+1)) of t the DGE sees where its result is not simply the clip, per k:
     * k = 5 down to 2^-7 (clip 3 is reached below t = 15^-1.25 ≈ 0.034), k = 3 and 10 (the paper's
     * ablation) down to 2^-6 (thresholds 0.037 and 0.023); up to t &lt; 4 (x &lt; −6 gives t &gt; 1).
     */
    static Stream<Arguments> binades() {
        List<Arguments> a = new ArrayList<>();
        for (int b = -7; b <= 1; b++) {
            a.add(Arguments.of(5f, b));
        }
        for (float k : new float[] {3f, 10f}) {
            for (int b = -6; b <= 0; b++) {
                a.add(Arguments.of(k, b));
            }
        }
        return a.stream();
    }

    @ParameterizedTest(name = "k = {0}, t in [2^{1}, 2^({1}+1))")
    @MethodSource("binades")
    void exhaustiveOverEveryFloatOfABinade(float k, int binade) {
        DifferentiableGradientEstimator dge = new DifferentiableGradientEstimator(k, 3f);
        double e = 1f / k - 1f;
        int from = Float.floatToRawIntBits(Math.scalb(1f, binade));
        int to = Float.floatToRawIntBits(Math.scalb(1f, binade + 1));
        int slow = 0;
        double worst = 0;
        for (int bits = from; bits < to; bits++) {
            float t = Float.intBitsToFloat(bits);
            double ref = Math.pow(t, e) / k;
            float want = Math.min((float) ref, 3f); // reference(t, k, 3f), with ref kept for the error
            float got = dge.derivativeOfT(t);
            if (Float.floatToRawIntBits(got) != Float.floatToRawIntBits(want)) {
                fail("t = " + t + " (0x" + Integer.toHexString(bits) + "): " + got + " vs reference " + want);
            }
            double q = dge.approximate(t);
            worst = Math.max(worst, Math.abs(q - ref) / ref);
            if (!DifferentiableGradientEstimator.roundsSafely(q)) {
                slow++;
            }
        }
        assertTrue(worst <= BOUND, "relative error " + worst + " exceeds the analytic bound " + BOUND);
        // The guard band is 2^17 of the 2^29 low-bit patterns: about 2^-12 of 2^23 values, ~2048.
        assertTrue(slow > 500 && slow < 8000, "values sent to Math.pow: " + slow);
    }

    @ParameterizedTest
    @ValueSource(floats = {1f, 3f, 5f, 10f})
    void sampledOverEveryNormalFloatAndTheSpecialOnes(float k) {
        DifferentiableGradientEstimator dge = new DifferentiableGradientEstimator(k, 3f);
        List<Float> ts = new ArrayList<>(List.of(0f, Float.MIN_VALUE, Float.MIN_NORMAL, Math.nextDown(Float.MIN_NORMAL),
                Float.MAX_VALUE, Float.POSITIVE_INFINITY, 1f, Math.nextDown(1f), Math.nextUp(1f)));
        // A stride prime to every power of two walks every binade and every mantissa position.
        for (long bits = 0; bits < 0x7F80_0000L; bits += 4099) {
            ts.add(Float.intBitsToFloat((int) bits));
        }
        for (float t : ts) {
            float want = reference(t, k, 3f);
            float got = dge.derivativeOfT(t);
            assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got), "t = " + t);
        }
    }

    @Test
    void nonNormalTakeTheReferencePath() {
        DifferentiableGradientEstimator dge = new DifferentiableGradientEstimator();
        for (float t : new float[] {0f, Float.MIN_VALUE, Math.nextDown(Float.MIN_NORMAL), Float.POSITIVE_INFINITY, Float.NaN}) {
            assertFalse(DifferentiableGradientEstimator.roundsSafely(dge.approximate(t)), "t = " + t);
        }
        assertEquals(3f, dge.derivativeOfT(0f), "centre: pow = +inf, clipped");
        assertEquals(0f, dge.derivativeOfT(Float.POSITIVE_INFINITY), "x = -inf: pow(inf, e < 0) = 0");
        // A float result below FP32's normal range would round with fewer bits: refused, too.
        assertFalse(DifferentiableGradientEstimator.roundsSafely(0x1.5p-127));
        assertTrue(DifferentiableGradientEstimator.roundsSafely(0x1.5p-126));
        assertFalse(DifferentiableGradientEstimator.roundsSafely(-0x1.5p-1));
        // The midpoint pattern itself and its guard band, by the bits.
        double mid = Double.longBitsToDouble(Double.doubleToRawLongBits(1.0) | 0x1000_0000L);
        assertFalse(DifferentiableGradientEstimator.roundsSafely(mid));
        assertFalse(DifferentiableGradientEstimator.roundsSafely(Double.longBitsToDouble(
                Double.doubleToRawLongBits(mid) + DifferentiableGradientEstimator.GUARD)));
        assertTrue(DifferentiableGradientEstimator.roundsSafely(Double.longBitsToDouble(
                Double.doubleToRawLongBits(mid) + DifferentiableGradientEstimator.GUARD + 1)));
    }

    /**
     * Hard cases: t whose reference double lies within 2^8 units of its last place of an FP32
     * midpoint. The fast value is within 12 units of the reference, so each must fall in the guard
     * band (the slow path), and the result must still be the reference.
     */
    @Test
    void valuesNextToAMidpointTakeTheSlowPathAndGiveTheReference() {
        DifferentiableGradientEstimator dge = new DifferentiableGradientEstimator();
        double e = 1f / 5f - 1f;
        int hard = 0;
        for (int bits = Float.floatToRawIntBits(0.03125f); bits < Float.floatToRawIntBits(2f); bits++) {
            float t = Float.intBitsToFloat(bits);
            long rb = Double.doubleToRawLongBits(Math.pow(t, e) / 5f);
            if (Math.abs(((int) rb & 0x1FFF_FFFF) - 0x1000_0000) > 256) {
                continue;
            }
            hard++;
            assertFalse(DifferentiableGradientEstimator.roundsSafely(dge.approximate(t)), "t = " + t);
            assertEquals(Float.floatToRawIntBits(reference(t, 5f, 3f)), Float.floatToRawIntBits(dge.derivativeOfT(t)),
                    "t = " + t);
        }
        // ~6·2^23 values, each near a midpoint with probability 2^9/2^29: about 48 expected.
        assertTrue(hard >= 10, "hard cases found: " + hard);
    }

    /** Scaled weights whose t falls in the guard band, through the bulk loop. */
    @Test
    void bulkLoopTakesTheSlowPathOnSomeWeightsAndStaysExact() {
        DifferentiableGradientEstimator dge = new DifferentiableGradientEstimator();
        SplittableRandom rnd = new SplittableRandom(2024);
        int n = 1 << 20;
        float[] x = new float[n];
        List<Float> slow = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextDouble(-6.0, 6.0);
            if (!DifferentiableGradientEstimator.roundsSafely(dge.approximate(tOf(x[i])))) {
                slow.add(x[i]);
            }
        }
        assertTrue(slow.size() > 20, "slow-path weights: " + slow.size()); // ~2^-12 · 2^20 = 256 expected
        float[] xs = new float[slow.size()];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = slow.get(i);
        }
        assertBulkEqualsScalar(dge, xs);
        assertBulkEqualsScalar(dge, x);
    }

    /** |2u/δ − 1| as the class computes it, from the interval list of the reference note. */
    private static float tOf(float x) {
        float[] left = {-6f, -4f, -3f, -2f, -1.5f, -1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f};
        float[] delta = {2f, 1f, 1f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 1f, 1f, 2f};
        int i = 0;
        while (i < left.length - 1 && x >= left[i + 1]) {
            i++;
        }
        return Math.abs(2f * (x - left[i]) / delta[i] - 1f);
    }

    private static void assertBulkEqualsScalar(DifferentiableGradientEstimator dge, float[] x) {
        float[] got = new float[x.length + 2];
        float[] padded = new float[x.length + 1];
        System.arraycopy(x, 0, padded, 1, x.length);
        dge.derivatives(padded, 1, got, 2, x.length);
        for (int i = 0; i < x.length; i++) {
            float want = dge.derivative(x[i]);
            if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(got[i + 2])) {
                fail(dge + ", x = " + x[i] + " (0x" + Integer.toHexString(Float.floatToRawIntBits(x[i])) + "): "
                        + got[i + 2] + " vs derivative " + want);
            }
        }
    }

    /** Every float of three whole intervals of x, through the bulk loop (about 17 M values). */
    @ParameterizedTest
    @ValueSource(floats = {3f, 5f, 10f})
    void exhaustiveOverWholeIntervalsOfX(float k) {
        DifferentiableGradientEstimator dge = new DifferentiableGradientEstimator(k, 3f);
        float[][] ranges = {{0.5f, 1f}, {-6f, -4f}, {4f, 6f}};
        for (float[] r : ranges) {
            // Same-signed floats are ordered like their bits: walk the bits from the end nearer 0.
            int a = Float.floatToRawIntBits(Math.min(Math.abs(r[0]), Math.abs(r[1])));
            int b = Float.floatToRawIntBits(Math.max(Math.abs(r[0]), Math.abs(r[1])));
            int sign = r[0] < 0 ? 0x8000_0000 : 0;
            float[] x = new float[b - a + 1];
            for (int i = 0; i < x.length; i++) {
                x[i] = Float.intBitsToFloat((a + i) | sign);
            }
            assertBulkEqualsScalar(dge, x);
        }
    }

    /**
     * Random k in [1, 20] (and k = 1, the identity, and the smallest k above 1) on random x in
     * [−8, 8], every interval end with its neighbours up to 3 ulps, ±0, ±6, beyond ±6, huge negative
     * x (t overflows to ∞), subnormals, ±∞ and NaN.
     */
    @ParameterizedTest
    @MethodSource("randomKs")
    void randomAndAdversarialWeightsForRandomK(float k) {
        DifferentiableGradientEstimator dge = new DifferentiableGradientEstimator(k, 3f);
        List<Float> xs = new ArrayList<>();
        float[] ends = {-6f, -5f, -4f, -3.5f, -3f, -2.5f, -2f, -1.75f, -1.5f, -1.25f, -1f, -0.75f, -0.5f, -0.25f, 0f,
            0.25f, 0.5f, 0.75f, 1f, 1.25f, 1.5f, 1.75f, 2f, 2.5f, 3f, 3.5f, 4f, 5f, 6f};
        for (float end : ends) {
            float up = end;
            float down = end;
            xs.add(end);
            for (int j = 0; j < 3; j++) {
                up = Math.nextUp(up);
                down = Math.nextDown(down);
                xs.add(up);
                xs.add(down);
            }
        }
        for (float v : new float[] {-0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, -Float.MIN_NORMAL,
            Math.nextDown(Float.MIN_NORMAL), -6.5f, -7f, -8f, -1e10f, -1e30f, -Float.MAX_VALUE, 7f, 1e30f,
            Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN}) {
            xs.add(v);
        }
        SplittableRandom rnd = new SplittableRandom(Float.floatToRawIntBits(k));
        for (int i = 0; i < 200_000; i++) {
            xs.add((float) rnd.nextDouble(-8.0, 8.0));
        }
        float[] x = new float[xs.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = xs.get(i);
        }
        assertBulkEqualsScalar(dge, x);
    }

    static Stream<Float> randomKs() {
        SplittableRandom rnd = new SplittableRandom(99);
        return Stream.concat(Stream.of(1f, Math.nextUp(1f), 20f),
                IntStream.range(0, 12).mapToObj(i -> (float) rnd.nextDouble(1.0, 20.0)));
    }
}
