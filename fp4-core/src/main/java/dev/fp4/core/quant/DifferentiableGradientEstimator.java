package dev.fp4.core.quant;

/**
 * The Differentiable Gradient Estimator (DGE) of Wang et al. 2025, "Optimizing Large Language Model
 * Training Using FP4 Quantization", exactly as the official kernel computes it.
 *
 * <p>The forward pass stays hard quantization; only the weight gradient uses the derivative of a
 * smooth surrogate of the E2M1 staircase. On the scaled weight x = w·sf, find the interval
 * [left, left+δ) holding x from the official list
 * <pre>
 *   [−6,−4) (also for x &lt; −6), [−4,−3), [−3,−2), [−2,−1.5), [−1.5,−1), [−1,−0.5), [−0.5,0),
 *   [0,0.5), [0.5,1), [1,1.5), [1.5,2), [2,3), [3,4), [4,6] (closed); x &gt; 6 (and NaN) → 0
 * </pre>
 * and with u = x − left, v = 2u/δ − 1:
 * <pre>
 *   f'(x) = min( |v|^(1/k − 1) / k , clip )      (k = 5, clip = 3 by default)
 * </pre>
 * the derivative of the surrogate left + f(u), f(u) = δ·(1 + sign(v)·|v|^(1/k)) / 2
 * ({@link #surrogate(double)}). At the ends of an interval f' = 1/k; at its centre the power is
 * infinite and f' = clip. −0 falls in [0, 0.5) as in the kernel (−0 &lt; 0 is false).
 *
 * <p>Arithmetic: u, 2u, 2u/δ, v and |v| are computed in FP32 (as the kernel does; the operations by
 * δ ∈ {0.5, 1, 2} are exact), the exponent is the FP32 value {@code 1f/k − 1f}, the power and the
 * division by k are evaluated in double ({@link Math#pow}) and rounded once to FP32, then clipped.
 * The official kernel runs {@code powf} and an FP32 division (each within 2 ulp) and stores BF16, so
 * results agree with it after rounding to BF16 (the form its check values are published in).
 * The derivative is scalar code: {@code pow} has no bit-reproducible Vector API equivalent (the
 * lanewise POW of the Vector API is an SVML approximation), and it runs once per weight per step.
 *
 * <p>Immutable and thread-safe.
 */
public final class DifferentiableGradientEstimator implements GradientEstimator {

    /** The paper's and the official code's k. */
    public static final float DEFAULT_K = 5f;

    /** The official clip of the derivative ({@code power_clamp_max}). */
    public static final float DEFAULT_CLIP = 3f;

    // Interval list of the official kernel, in order; the first also takes x < −6, the last is closed.
    private static final float[] LEFT = {-6f, -4f, -3f, -2f, -1.5f, -1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f};
    private static final float[] DELTA = {2f, 1f, 1f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 1f, 1f, 2f};

    private final float k;
    private final float clip;
    private final double exponent;

    /** The DGE with k = 5 and clip = 3 (the paper's setting). */
    public DifferentiableGradientEstimator() {
        this(DEFAULT_K, DEFAULT_CLIP);
    }

    /**
     * @param k    sharpness, finite and ≥ 1 (k = 1 is the identity, i.e. the straight-through
     *             estimator; larger k approaches hard rounding; the paper ablates 3, 5, 10)
     * @param clip upper bound of f', finite and &gt; 0 (the derivative is infinite at the centres)
     */
    public DifferentiableGradientEstimator(float k, float clip) {
        if (!(k >= 1f) || !Float.isFinite(k)) {
            throw new IllegalArgumentException("k must be finite and >= 1, got " + k);
        }
        if (!(clip > 0f) || !Float.isFinite(clip)) {
            throw new IllegalArgumentException("clip must be finite and > 0, got " + clip);
        }
        this.k = k;
        this.clip = clip;
        this.exponent = 1f / k - 1f; // FP32, as the kernel's 1.0f / k - 1.0f
    }

    /** The sharpness parameter k. */
    public float k() {
        return k;
    }

    /** The clip of the derivative. */
    public float clip() {
        return clip;
    }

    /** Index into the interval list for x, or −1 for x &gt; 6 and NaN (the kernel's fall-through). */
    private static int interval(float x) {
        if (x < 0f) {
            if (x < -2f) {
                return x < -4f ? 0 : x < -3f ? 1 : 2;
            }
            return x < -1.5f ? 3 : x < -1f ? 4 : x < -0.5f ? 5 : 6;
        }
        if (x < 2f) { // also −0
            return x < 0.5f ? 7 : x < 1f ? 8 : x < 1.5f ? 9 : 10;
        }
        if (x <= 6f) {
            return x < 3f ? 11 : x < 4f ? 12 : 13;
        }
        return -1; // x > 6 or NaN
    }

    /**
     * f'(x) for the scaled weight x; see the class comment. Non-finite x: −∞ gives 0 (|v| = ∞),
     * +∞ and NaN give 0 (no interval), as in the kernel.
     */
    @Override
    public float derivative(float x) {
        int i = interval(x);
        if (i < 0) {
            return 0f;
        }
        float delta = DELTA[i];
        float u = x - LEFT[i];
        float t = Math.abs(2f * u / delta - 1f);
        float d = (float) (Math.pow(t, exponent) / k); // t = 0 → +∞ → clip
        return Math.min(d, clip);
    }

    /**
     * dst[dstOff + i] = {@link #derivative}(x[off + i]) for i &lt; n, bit for bit, for the weights
     * of a whole layer. The interval is found without data-dependent branches (its index is the
     * number of interval starts −4 … 4 at or below x, which also puts −0 in [0, 0.5) and x &lt; −6 in
     * the first interval), so random weights cost no branch mispredictions; the power stays
     * {@link Math#pow} in double, rounded once.
     */
    public void derivatives(float[] x, int off, float[] dst, int dstOff, int n) {
        java.util.Objects.checkFromIndexSize(off, n, x.length);
        java.util.Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int j = 0; j < n; j++) {
            float v = x[off + j];
            if (!(v <= 6f)) { // x > 6 or NaN: no interval
                dst[dstOff + j] = 0f;
                continue;
            }
            int i = (v >= -4f ? 1 : 0) + (v >= -3f ? 1 : 0) + (v >= -2f ? 1 : 0) + (v >= -1.5f ? 1 : 0)
                    + (v >= -1f ? 1 : 0) + (v >= -0.5f ? 1 : 0) + (v >= 0f ? 1 : 0) + (v >= 0.5f ? 1 : 0)
                    + (v >= 1f ? 1 : 0) + (v >= 1.5f ? 1 : 0) + (v >= 2f ? 1 : 0) + (v >= 3f ? 1 : 0)
                    + (v >= 4f ? 1 : 0);
            float u = v - LEFT[i];
            float t = Math.abs(2f * u / DELTA[i] - 1f);
            float d = (float) (Math.pow(t, exponent) / k);
            dst[dstOff + j] = Math.min(d, clip);
        }
    }

    /**
     * The smooth surrogate of the E2M1 staircase whose derivative {@link #derivative} is (before the
     * clip): left + δ·(1 + sign(v)·|v|^(1/k)) / 2 on each interval, continuous across interval ends
     * (it takes the grid values there), extended by the first interval's formula below −6 and
     * constant 6 above 6. Evaluated in double with the same exponent as the derivative
     * ({@code 1f/k} rounded to FP32); for plots and tests.
     */
    public double surrogate(double x) {
        if (x > 6.0) {
            return 6.0;
        }
        int i = interval((float) x);
        if (i < 0) {
            return Double.NaN;
        }
        // Re-check in double near interval ends, where the FP32 image may have crossed an end.
        while (i > 0 && x < LEFT[i]) {
            i--;
        }
        while (i < LEFT.length - 1 && x >= LEFT[i + 1]) {
            i++;
        }
        double delta = DELTA[i];
        double v = 2.0 * (x - LEFT[i]) / delta - 1.0;
        return LEFT[i] + delta * (1.0 + Math.signum(v) * Math.pow(Math.abs(v), exponent + 1.0)) / 2.0;
    }

    @Override
    public String toString() {
        return "DGE(k=" + k + ", clip=" + clip + ")";
    }
}
