package dev.fp4.nn.recipe;

import java.util.Objects;

/**
 * How the weight gradient passes through the FP4 weight quantizer: dL/dW = dL/dŴ ⊙ f'(W·sf), with
 * f' evaluated on the scaled weight (the value the E2M1 rounding saw).
 */
public interface WeightGradientEstimator {
    /** Straight-through: f' = 1, dL/dW = dL/dŴ. */
    WeightGradientEstimator STE = of("ste", x -> 1f, true);

    /** A name for logs and recipe descriptions, e.g. {@code ste} or {@code dge(k=5)}. */
    String name();

    /** f'(x) at the scaled weight x. */
    float derivative(float x);

    /** Whether f' ≡ 1 (the layer then adds dŴ straight into the gradient). */
    default boolean isIdentity() {
        return false;
    }

    /** An estimator from a name and a derivative function (e.g. a fp4-core estimator's). */
    static WeightGradientEstimator of(String name, Derivative derivative) {
        return of(name, derivative, false);
    }

    private static WeightGradientEstimator of(String name, Derivative derivative, boolean identity) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(derivative, "derivative");
        return new WeightGradientEstimator() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public float derivative(float x) {
                return derivative.at(x);
            }

            @Override
            public boolean isIdentity() {
                return identity;
            }

            @Override
            public String toString() {
                return name;
            }
        };
    }

    /** A derivative function f'(x). */
    @FunctionalInterface
    interface Derivative {
        /** f'(x). */
        float at(float x);
    }
}
