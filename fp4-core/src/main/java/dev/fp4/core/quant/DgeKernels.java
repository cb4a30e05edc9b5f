package dev.fp4.core.quant;

import dev.fp4.core.simd.Simd;

/**
 * Kernel of {@link DifferentiableGradientEstimator#derivatives}: the distance t = |2u/δ − 1| of each
 * scaled weight x from the centre of its interval (u = x − left), in FP32 exactly as
 * {@link DifferentiableGradientEstimator#derivative} computes it, or NaN where x has no interval
 * (x &gt; 6 or NaN). t itself is never NaN (x = −∞ gives +∞), so NaN is free to mark "f' = 0".
 *
 * <p>The interval is the last of the official list whose start is at or below x (the first, [−6, −4),
 * also takes x &lt; −6; −0 ≥ 0 puts −0 in [0, 0.5)). 2u/δ is computed as (2u)·(1/δ): δ is a power of
 * two, so both are the correctly rounded 2u·2^-j, the same float (±∞ and subnormals included).
 * The vector kernel {@link #distancesVector} and its scalar twin {@link #distancesScalar} are held
 * equal bit for bit by tests.
 */
final class DgeKernels {

    /** Starts of the official intervals; the first also takes x &lt; −6, the last ends at 6 (closed). */
    static final float[] LEFT = {-6f, -4f, -3f, -2f, -1.5f, -1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f};

    /** 1/δ of each interval (δ = 2, 1, 1, 0.5 × 8, 1, 1, 2). */
    static final float[] INV_DELTA = {0.5f, 1f, 1f, 2f, 2f, 2f, 2f, 2f, 2f, 2f, 2f, 1f, 1f, 0.5f};

    private DgeKernels() {
    }

    /** t[tOff+i] = distance of x[xOff+i] (see the class comment) for i in [0, n). */
    static void distances(float[] x, int xOff, float[] t, int tOff, int n) {
        if (Simd.ENABLED) {
            DgeKernelsPanama.distancesVector(x, xOff, t, tOff, n);
        } else {
            distancesScalar(x, xOff, t, tOff, n);
        }
    }

    static void distancesScalar(float[] x, int xOff, float[] t, int tOff, int n) {
        for (int j = 0; j < n; j++) {
            t[tOff + j] = distance(x[xOff + j]);
        }
    }

    /** The distance of one scaled weight (NaN: no interval). */
    static float distance(float v) {
        if (!(v <= 6f)) { // x > 6 or NaN: no interval
            return Float.NaN;
        }
        // The number of starts −4 … 4 at or below v, without data-dependent branches.
        int i = (v >= -4f ? 1 : 0) + (v >= -3f ? 1 : 0) + (v >= -2f ? 1 : 0) + (v >= -1.5f ? 1 : 0)
                + (v >= -1f ? 1 : 0) + (v >= -0.5f ? 1 : 0) + (v >= 0f ? 1 : 0) + (v >= 0.5f ? 1 : 0)
                + (v >= 1f ? 1 : 0) + (v >= 1.5f ? 1 : 0) + (v >= 2f ? 1 : 0) + (v >= 3f ? 1 : 0)
                + (v >= 4f ? 1 : 0);
        float u = v - LEFT[i];
        return Math.abs(2f * u * INV_DELTA[i] - 1f);
    }
}
