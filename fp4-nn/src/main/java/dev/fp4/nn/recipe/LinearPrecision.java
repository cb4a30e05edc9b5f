package dev.fp4.nn.recipe;

import java.util.Objects;

/**
 * Everything a recipe decides for one linear layer Y = X·Wᵀ (W [out, in]): the operand formats of
 * its three GeMMs (see {@link GemmPrecision} for the operand layouts), the weight-gradient
 * estimator and the outlier clamping of the input.
 *
 * <p>Semantics, with Qf the quantizer of operand f of the GeMM at hand (each applied in the
 * GeMM-compatible layout [·, K], after the GeMM's Hadamard transform if it has one):
 * <pre>
 *   forward:          X_c = clamp(X) (or X),  X̂ = Qa(X_c),  Ŵ = Qb(W),  Y = X̂·Ŵᵀ (+ ΔX·Wᵀ)
 *   data gradient:    dX = Qa(dY)·Qb(Ŵᵀ)ᵀ  (clamped elements with compensation: dY·W in FP32)
 *   weight gradient:  dŴ = Qa(dYᵀ)·Qb(X̂ᵀ)ᵀ,  dW += dŴ ⊙ f'(W·sf)  (+ dYᵀ·ΔX in FP32)
 *                     (Qb(Xᵀ) in place of Qb(X̂ᵀ) when the weight gradient is {@code fromInput})
 * </pre>
 * f' is the estimator's derivative on the scaled weights W·sf (the values the forward weight
 * quantizer rounded to E2M1); the straight-through estimator (f' = 1) adds dŴ unchanged. The
 * activation quantizer is always passed straight through. See {@link OutlierClamping} for the exact
 * backward with compensation.
 *
 * @param forward    formats of X and W in Y = X·Wᵀ (no Hadamard transform allowed here)
 * @param dataGrad   formats of dY and Ŵᵀ in dX = dY·Ŵ
 * @param weightGrad formats of dYᵀ and X̂ᵀ in dŴ = dYᵀ·X̂
 * @param estimator  the weight-gradient estimator (must be {@link WeightGradientEstimator#STE} unless
 *                   the forward weight format has E2M1 elements)
 * @param clamping   outlier clamping of X before its quantizer, or null for none
 */
public record LinearPrecision(GemmPrecision forward, GemmPrecision dataGrad, GemmPrecision weightGrad,
                              WeightGradientEstimator estimator, OutlierClamping clamping) {
    /** All FP32, straight-through. */
    public static final LinearPrecision FP32 = new LinearPrecision(GemmPrecision.FP32, GemmPrecision.FP32,
            GemmPrecision.FP32, WeightGradientEstimator.STE);

    /** Checks for null and that the options fit together. */
    public LinearPrecision {
        Objects.requireNonNull(forward, "forward");
        Objects.requireNonNull(dataGrad, "dataGrad");
        Objects.requireNonNull(weightGrad, "weightGrad");
        Objects.requireNonNull(estimator, "estimator");
        if (!estimator.isIdentity() && !forward.b().hasE2M1Elements()) {
            throw new IllegalArgumentException("estimator " + estimator.name()
                    + " needs an FP4 (E2M1) forward weight format, got " + forward.b().name());
        }
        if (forward.fromInput() || dataGrad.fromInput()) {
            throw new IllegalArgumentException("quantizing an operand from the layer's input X applies to the weight gradient only");
        }
        if (forward.hadamard() != null) {
            throw new IllegalArgumentException("a Hadamard transform is supported on the backward GeMMs only"
                    + " (the forward keeps X̂ and Ŵ in the original basis for backward and the estimator)");
        }
    }

    /** No clamping. */
    public LinearPrecision(GemmPrecision forward, GemmPrecision dataGrad, GemmPrecision weightGrad,
                           WeightGradientEstimator estimator) {
        this(forward, dataGrad, weightGrad, estimator, null);
    }

    /** Every operand of every GeMM in format {@code f}, straight-through. */
    public static LinearPrecision uniform(OperandFormat f) {
        GemmPrecision g = GemmPrecision.both(f);
        return new LinearPrecision(g, g, g, WeightGradientEstimator.STE);
    }

    /** A copy with another forward GeMM. */
    public LinearPrecision withForward(GemmPrecision g) {
        return new LinearPrecision(g, dataGrad, weightGrad, estimator, clamping);
    }

    /** A copy with another data-gradient GeMM. */
    public LinearPrecision withDataGrad(GemmPrecision g) {
        return new LinearPrecision(forward, g, weightGrad, estimator, clamping);
    }

    /** A copy with another weight-gradient GeMM. */
    public LinearPrecision withWeightGrad(GemmPrecision g) {
        return new LinearPrecision(forward, dataGrad, g, estimator, clamping);
    }

    /** A copy with both backward GeMMs in {@code g}. */
    public LinearPrecision withBackward(GemmPrecision g) {
        return new LinearPrecision(forward, g, g, estimator, clamping);
    }

    /** A copy with another estimator. */
    public LinearPrecision withEstimator(WeightGradientEstimator e) {
        return new LinearPrecision(forward, dataGrad, weightGrad, e, clamping);
    }

    /** A copy with outlier clamping of the input (null: none). */
    public LinearPrecision withClamping(OutlierClamping c) {
        return new LinearPrecision(forward, dataGrad, weightGrad, estimator, c);
    }

    @Override
    public String toString() {
        return "fwd " + forward + "; dgrad " + dataGrad + "; wgrad " + weightGrad + "; " + estimator.name()
                + (clamping == null ? "" : "; " + clamping);
    }
}
