package dev.fp4.nn.recipe;

import java.util.Objects;

/**
 * Everything a recipe decides for one linear layer: the operand formats of its three GeMMs (see
 * {@link GemmPrecision} for the operand layouts) and the weight-gradient estimator.
 *
 * <p>Semantics. Forward: X̂ = Qa(X), Ŵ = Qb(W), Y = X̂·Ŵᵀ. Backward: dX = Q(dY)·Q(Ŵ) (the data
 * gradient of the quantized forward; the activation quantizer is passed straight through) and
 * dŴ = Q(dY)ᵀ·Q(X̂), then dW += dŴ ⊙ f'(W·sf) when the forward weight format has E2M1 elements and
 * the estimator is not the identity, else dW += dŴ.
 *
 * @param forward    formats of X and W in Y = X·Wᵀ
 * @param dataGrad   formats of dY and Ŵᵀ in dX = dY·Ŵ
 * @param weightGrad formats of dYᵀ and X̂ᵀ in dŴ = dYᵀ·X̂
 * @param estimator  the weight-gradient estimator (ignored unless the forward weight is FP4)
 */
public record LinearPrecision(GemmPrecision forward, GemmPrecision dataGrad, GemmPrecision weightGrad,
                              WeightGradientEstimator estimator) {
    /** All FP32, straight-through. */
    public static final LinearPrecision FP32 = new LinearPrecision(GemmPrecision.FP32, GemmPrecision.FP32,
            GemmPrecision.FP32, WeightGradientEstimator.STE);

    /** Checks for null and that a non-trivial estimator has E2M1 weights to work on. */
    public LinearPrecision {
        Objects.requireNonNull(forward, "forward");
        Objects.requireNonNull(dataGrad, "dataGrad");
        Objects.requireNonNull(weightGrad, "weightGrad");
        Objects.requireNonNull(estimator, "estimator");
        if (!estimator.isIdentity() && !forward.b().hasE2M1Elements()) {
            throw new IllegalArgumentException("estimator " + estimator.name()
                    + " needs an FP4 (E2M1) forward weight format, got " + forward.b().name());
        }
    }

    /** Every operand of every GeMM in format {@code f}, straight-through. */
    public static LinearPrecision uniform(OperandFormat f) {
        GemmPrecision g = GemmPrecision.both(f);
        return new LinearPrecision(g, g, g, WeightGradientEstimator.STE);
    }

    /** A copy with another forward GeMM. */
    public LinearPrecision withForward(GemmPrecision g) {
        return new LinearPrecision(g, dataGrad, weightGrad, estimator);
    }

    /** A copy with another data-gradient GeMM. */
    public LinearPrecision withDataGrad(GemmPrecision g) {
        return new LinearPrecision(forward, g, weightGrad, estimator);
    }

    /** A copy with another weight-gradient GeMM. */
    public LinearPrecision withWeightGrad(GemmPrecision g) {
        return new LinearPrecision(forward, dataGrad, g, estimator);
    }

    /** A copy with both backward GeMMs in {@code g}. */
    public LinearPrecision withBackward(GemmPrecision g) {
        return new LinearPrecision(forward, g, g, estimator);
    }

    /** A copy with another estimator. */
    public LinearPrecision withEstimator(WeightGradientEstimator e) {
        return new LinearPrecision(forward, dataGrad, weightGrad, e);
    }

    @Override
    public String toString() {
        return "fwd " + forward + ", dgrad " + dataGrad + ", wgrad " + weightGrad + ", " + estimator.name();
    }
}
