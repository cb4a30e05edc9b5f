package dev.fp4.core.quant;

import dev.fp4.core.simd.Simd;

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
 * division by k are evaluated in double ({@link StrictMath#pow}) and rounded once to FP32, then clipped.
 * The official kernel runs {@code powf} and an FP32 division (each within 2 ulp) and stores BF16, so
 * results agree with it after rounding to BF16 (the form its check values are published in).
 * This double-then-FP32 result is the definition ({@link #derivative} computes it directly).
 *
 * <p>The bulk {@link #derivatives}, which runs once per weight per step, returns the same bits with
 * {@code pow} on only about 2^-12 of the elements: a table-driven t^e/k in double, accurate to a few
 * units of 2^-52, rounds to the same float as the reference whenever it is not within a guard band
 * around a rounding midpoint of FP32 (Ziv's test, {@link #derivativeOfT}); inside the band, and for
 * t = 0, subnormal or infinite, it evaluates the reference expression. (The lanewise POW of the
 * Vector API is an SVML approximation with no such guarantee, so it is not used.)
 *
 * <p>Immutable and thread-safe (the vector path keeps an 8 KB index scratch per calling thread).
 */
public final class DifferentiableGradientEstimator implements GradientEstimator {

    /** The paper's and the official code's k. */
    public static final float DEFAULT_K = 5f;

    /** The official clip of the derivative ({@code power_clamp_max}). */
    public static final float DEFAULT_CLIP = 3f;

    // Interval list of the official kernel, in order; the first also takes x < −6, the last is closed.
    private static final float[] LEFT = {-6f, -4f, -3f, -2f, -1.5f, -1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f};
    private static final float[] DELTA = {2f, 1f, 1f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 1f, 1f, 2f};

    /** Elements per block of {@link #derivatives} (4 KB of distances, kept in L1 between the passes). */
    static final int BLOCK = 1024;

    /** Mantissa bits of t that index the table of centres (256 sub-intervals of each binade). */
    static final int INDEX_BITS = 8;

    /**
     * Half-width, in units of the last place of q's double, of the band around a rounding midpoint
     * of FP32 in which the fast path defers to {@link StrictMath#pow}. The fast value and the reference
     * double are each within a few 2^-52 of t^e/k (see {@link #approximate}: together at most
     * 5.8·2^-52 relative, i.e. 12 units), so 2^16 units leaves a margin of over 5000; it sends about
     * 2^-12 of all values to the slow path.
     */
    static final int GUARD = 1 << 16;

    // The first D.length() lanes of an F vector: the floats one D vector widens or narrows. The
    // kernel stays on the one vector shape every other kernel uses: a second shape of FloatVector or
    // IntVector pollutes the receiver-type profiles of the Vector API's shared methods, after which
    // C2 may merge two vector classes at a call and box every vector of an unrelated kernel (seen:
    // QuantKernels.absMax allocating ~500 MB per step with one thread while this kernel used
    // half-width species).

    /** Index scratch of {@link #derivativesVector}, one per thread (the estimator is shared). */
    static final ThreadLocal<int[]> INDEX = ThreadLocal.withInitial(() -> new int[2 * BLOCK]);

    // Bits of 1.0 and of a double's mantissa: the top INDEX_BITS bits of an FP32 mantissa (kept) and
    // the half-step below them (the centre of the sub-interval).
    static final long ONE = 0x3FF0_0000_0000_0000L;
    static final long MANTISSA = 0x000F_FFFF_FFFF_FFFFL;
    static final long CENTRE_MASK = (long) (0x7F_FFFF & -(1 << (23 - INDEX_BITS))) << 29;
    static final long CENTRE_BIT = 1L << (22 - INDEX_BITS + 29);

    private final float k;
    private final float clip;
    final int clipBits;
    private final double exponent;

    // Fast path tables for t = 2^(E−127)·m, m ∈ [1, 2), c_i = 1 + (i + ½)/256 the centre of m's
    // sub-interval i (its top 8 mantissa bits): t^e/k = scale[E] · centrePow[i] · (1 + r)^e with
    // r = (m − c_i)/c_i, |r| < 2^-9. Built once with StrictMath.pow (≤ 1 ulp each).
    final double[] scale = new double[256];          // 2^((E−127)·e)/k; NaN for E = 0 (0, subnormal) and 255 (∞, NaN)
    final double[] centrePow = new double[1 << INDEX_BITS]; // c_i^e
    final double[] centreInv = new double[1 << INDEX_BITS]; // 1/c_i
    // (1 + r)^e = 1 + a1·r + … + a5·r^5 + O(r^6): binomial coefficients a_n = e(e−1)…(e−n+1)/n!.
    final double a1;
    final double a2;
    final double a3;
    final double a4;
    final double a5;

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
        this.clipBits = Float.floatToRawIntBits(clip);
        this.exponent = 1f / k - 1f; // FP32, as the kernel's 1.0f / k - 1.0f
        double e = exponent;
        for (int b = 1; b < 255; b++) {
            scale[b] = StrictMath.pow(2.0, (b - 127) * e) / k; // (b − 127)·e is exact: 8 × 24 significant bits
        }
        scale[0] = Double.NaN;
        scale[255] = Double.NaN;
        for (int i = 0; i < centrePow.length; i++) {
            double c = 1.0 + (i + 0.5) / centrePow.length; // exact
            centrePow[i] = StrictMath.pow(c, e);
            centreInv[i] = 1.0 / c;
        }
        a1 = e;
        a2 = a1 * (e - 1) / 2;
        a3 = a2 * (e - 2) / 3;
        a4 = a3 * (e - 3) / 4;
        a5 = a4 * (e - 4) / 5;
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
        float d = (float) (StrictMath.pow(t, exponent) / k); // t = 0 → +∞ → clip
        return Math.min(d, clip);
    }

    /**
     * dst[dstOff + i] = {@link #derivative}(x[off + i]) for i &lt; n, bit for bit, for the weights
     * of a whole layer; allocation-free, and many times faster than {@code derivative} per element.
     * The distances t = |v| come from the branch-free kernel {@link DgeKernels#distances}, then each
     * goes through the exact fast path of {@link #derivativeOfT} (with the Vector API: its lanewise
     * form, {@link #derivativesVector}; its scalar twin is {@link #derivativesScalar}).
     */
    public void derivatives(float[] x, int off, float[] dst, int dstOff, int n) {
        java.util.Objects.checkFromIndexSize(off, n, x.length);
        java.util.Objects.checkFromIndexSize(dstOff, n, dst.length);
        if (Simd.ENABLED) {
            derivativesVector(x, off, dst, dstOff, n);
        } else {
            derivativesScalar(x, off, dst, dstOff, n);
        }
    }

    /** The scalar twin of {@link #derivativesVector}: {@link #derivativeOfT} of each distance. */
    void derivativesScalar(float[] x, int off, float[] dst, int dstOff, int n) {
        for (int j = 0; j < n; j++) {
            dst[dstOff + j] = derivativeOfT(DgeKernels.distance(x[off + j]));
        }
    }

    /** {@link #derivatives} with the Vector API ({@link DifferentiableGradientEstimatorPanama}). */
    void derivativesVector(float[] x, int off, float[] dst, int dstOff, int n) {
        DifferentiableGradientEstimatorPanama.derivativesVector(this, x, off, dst, dstOff, n);
    }



    /**
     * min((float) (t^e / k), clip) with t^e/k as {@link StrictMath#pow}{@code (t, e) / k} in double, for
     * t = |v| ≥ 0 (the last step of {@link #derivative}), bit for bit, mostly without {@code pow}.
     *
     * <p>Ziv's exact-rounding test: q = {@link #approximate}(t) and the reference double
     * {@code StrictMath.pow(t, e) / k} both lie within 5.8·2^-52 (relative) of the real t^e/k. Rounding to
     * FP32 is monotone and changes only at the midpoints between adjacent floats, so when q is at
     * least {@link #GUARD} units of its last place away from every midpoint (and in FP32's normal
     * range, where the midpoints are the doubles whose 29 low mantissa bits are 0x1000_0000, including
     * the one just below a power of two, which shows in the lower binade) the reference rounds to the
     * same float as q, and so does the clip after it. Otherwise (about 2^-12 of all t, plus t = 0,
     * subnormal or infinite) the reference expression is evaluated. t = NaN, the kernel's mark of a
     * weight with no interval, gives 0.
     */
    float derivativeOfT(float t) {
        long q = Double.doubleToRawLongBits(approximate(t));
        if (roundsSafely(q)) {
            // (float) q, with no midpoint near: add half of FP32's last place and keep its bits (a
            // carry out of the mantissa steps the exponent, as rounding does), rebias 1023 → 127.
            int f = (int) ((q + 0x1000_0000L) >>> 29) - ((1023 - 127) << 23);
            return Float.intBitsToFloat(Math.min(f, clipBits)); // positive floats order as their bits
        }
        if (Float.isNaN(t)) {
            return 0f; // no interval (x > 6 or NaN); see DgeKernels
        }
        return Math.min((float) (StrictMath.pow(t, exponent) / k), clip);
    }

    /**
     * t^e/k in double for a normal t (NaN for t = 0, subnormal, ∞ or NaN), within 4.3·2^-52 relative
     * of the real value: with t = 2^(E−127)·m, c the centre of m's sub-interval and r = (m − c)/c,
     * t^e/k = [2^((E−127)e)/k] · c^e · (1 + r)^e. The two table entries carry at most 1.5 and 1 ulp
     * ({@link StrictMath#pow} and the division by k), the degree-5 binomial series truncates below
     * |a6|·r^6 ≤ 2^-54 (|r| &lt; 2^-9, |a_n| ≤ 1 for −1 ≤ e ≤ 0), its last addition 1 + s rounds by
     * half an ulp (s, evaluated by Estrin's scheme with fused multiply-adds for a short dependency
     * chain, is below 2^-9 and its roundings below 2^-61), r carries 2^-52 relative (harmless: below
     * 2^-61 in the result) and the two products half an ulp each.
     *
     * <p>m and c are assembled from bits (no int-to-double conversion, whose partial register write
     * would chain the iterations of the bulk loop); m − c is exact (same binade, 23-bit operands).
     */
    double approximate(float t) {
        int bits = Float.floatToRawIntBits(t);
        int i = (bits >>> (23 - INDEX_BITS)) & ((1 << INDEX_BITS) - 1);
        long mantissa = (long) (bits & 0x7F_FFFF) << 29;
        double m = Double.longBitsToDouble(ONE | mantissa);
        double c = Double.longBitsToDouble(ONE | (mantissa & CENTRE_MASK) | CENTRE_BIT);
        double r = (m - c) * centreInv[i];
        double r2 = r * r;
        double series = 1.0 + Math.fma(r2, Math.fma(r2, Math.fma(r, a5, a4), Math.fma(r, a3, a2)), a1 * r);
        return scale[(bits >>> 23) & 0xFF] * centrePow[i] * series;
    }

    /**
     * Whether (float) of every double within {@link #GUARD} units of q's last place of q is the same
     * normal float: q's exponent is in FP32's normal range [−126, 127] and its 29 mantissa bits below
     * FP32's are at least GUARD away from the midpoint pattern 0x1000_0000. False for NaN.
     */
    static boolean roundsSafely(double q) {
        return roundsSafely(Double.doubleToRawLongBits(q));
    }

    private static boolean roundsSafely(long q) {
        int biased = (int) (q >>> 52); // sign bit set (negative, or a negative NaN) lands outside the range
        int low = (int) q & 0x1FFF_FFFF;
        return ((biased - (1023 - 126)) | ((1023 + 127) - biased)) >= 0 & Math.abs(low - 0x1000_0000) > GUARD;
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
        return LEFT[i] + delta * (1.0 + Math.signum(v) * StrictMath.pow(Math.abs(v), exponent + 1.0)) / 2.0;
    }

    @Override
    public String toString() {
        return "DGE(k=" + k + ", clip=" + clip + ")";
    }
}
