package dev.fp4.nn.recipe;

import dev.fp4.core.quant.DifferentiableGradientEstimator;
import java.util.Objects;

/**
 * How the weight gradient passes through the FP4 weight quantizer: dL/dW = dL/dŴ ⊙ f'(W·sf), with
 * f' evaluated on the scaled weight (the value the E2M1 rounding saw).
 */
public interface WeightGradientEstimator {
    /** Straight-through: f' = 1, dL/dW = dL/dŴ. */
    WeightGradientEstimator STE = of("ste", x -> 1f, true);

    /**
     * The Differentiable Gradient Estimator of Wang et al. (2025) with k = 5 and the official
     * clip 3 ({@link DifferentiableGradientEstimator}), named {@code dge(k=5)}.
     */
    static WeightGradientEstimator dge() {
        return dge(DifferentiableGradientEstimator.DEFAULT_K);
    }

    /** The DGE with sharpness {@code k} (≥ 1; the paper ablates 3, 5, 10) and the official clip 3. */
    static WeightGradientEstimator dge(float k) {
        DifferentiableGradientEstimator d = new DifferentiableGradientEstimator(k, DifferentiableGradientEstimator.DEFAULT_CLIP);
        String kName = k == Math.rint(k) ? Integer.toString((int) k) : Float.toString(k);
        String name = "dge(k=" + kName + ")";
        return new WeightGradientEstimator() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public float derivative(float x) {
                return d.derivative(x);
            }

            @Override
            public void derivatives(float[] x, int off, float[] dst, int dstOff, int n) {
                d.derivatives(x, off, dst, dstOff, n);
            }

            @Override
            public String toString() {
                return name;
            }
        };
    }

    /** A name for logs and recipe descriptions, e.g. {@code ste} or {@code dge(k=5)}. */
    String name();

    /** f'(x) at the scaled weight x. */
    float derivative(float x);

    /**
     * dst[dstOff + i] = {@link #derivative}(x[off + i]) for i &lt; n, bit for bit (estimators may
     * override it with a faster loop over a whole weight).
     */
    default void derivatives(float[] x, int off, float[] dst, int dstOff, int n) {
        java.util.Objects.checkFromIndexSize(off, n, x.length);
        java.util.Objects.checkFromIndexSize(dstOff, n, dst.length);
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = derivative(x[off + i]);
        }
    }

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
