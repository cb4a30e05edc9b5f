package dev.fp4.core.quant;

/**
 * The straight-through estimator (STE): the quantizer's derivative is taken as 1, so the gradient
 * with respect to the dequantized weights passes to the master weights unchanged. This is what
 * "direct casting" to FP4 trains with, the baseline the DGE is compared to.
 *
 * <p>Option {@link #clipped()}: the derivative is 1 on the E2M1 range [−6, 6] of the scaled value
 * (ends included) and 0 outside, the derivative of the saturating quantizer clamp(x, −6, 6). With
 * absmax scaling every scaled weight lies in [−6, 6] and both variants agree; they differ only under
 * scales that let values saturate (clipped or fixed scales).
 *
 * <p>Immutable and thread-safe.
 */
public final class StraightThroughEstimator implements GradientEstimator {

    private static final StraightThroughEstimator IDENTITY = new StraightThroughEstimator(false);
    private static final StraightThroughEstimator CLIPPED = new StraightThroughEstimator(true);

    private final boolean zeroOutsideRange;

    /**
     * @param zeroOutsideRange {@code true}: f'(x) = 0 for |x| &gt; 6 (see {@link #clipped()});
     *                         {@code false}: f'(x) = 1 everywhere
     */
    public StraightThroughEstimator(boolean zeroOutsideRange) {
        this.zeroOutsideRange = zeroOutsideRange;
    }

    /** f' = 1 everywhere. */
    public static StraightThroughEstimator identity() {
        return IDENTITY;
    }

    /** f' = 1 on [−6, 6], 0 outside. */
    public static StraightThroughEstimator clipped() {
        return CLIPPED;
    }

    /** Whether the gradient is zeroed where the scaled value saturates (|x| &gt; 6). */
    public boolean zeroOutsideRange() {
        return zeroOutsideRange;
    }

    /** 1, or with {@link #zeroOutsideRange()} 1 on [−6, 6] and 0 elsewhere (NaN included). */
    @Override
    public float derivative(float x) {
        if (!zeroOutsideRange) {
            return 1f;
        }
        return x >= -6f && x <= 6f ? 1f : 0f;
    }

    @Override
    public String toString() {
        return zeroOutsideRange ? "STE(clipped to [-6, 6])" : "STE(identity)";
    }
}
