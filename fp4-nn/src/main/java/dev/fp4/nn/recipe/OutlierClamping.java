package dev.fp4.nn.recipe;

import dev.fp4.core.quant.OutlierClamp;
import java.util.Objects;

/**
 * Outlier clamping of a linear layer's input activations before they are quantized (Wang et al.
 * 2025), with or without the sparse high-precision compensation.
 *
 * <p>With X_c = clamp(X, lower, upper) (signed α-quantiles per {@link #granularity()}, fp4-core's
 * {@link OutlierClamp}) and ΔX = X − X_c (sparse, ≈ 2(1 − α) of the elements):
 * <ul>
 *   <li>{@code compensate}: Y = Q(X_c)·Q(W)ᵀ + ΔX·Wᵀ, the residual product in FP32 with the FP32
 *       master weights W. Backward (STE for the quantizers, the clamp bounds taken as constants):
 *       dX = dY·Q(W) where X was not clamped and dX = dY·W (FP32) where it was (the clamp passes
 *       no gradient there, the residual all of it); dW = f'(W)⊙(dYᵀ·Q(X_c)) + dYᵀ·ΔX, the second
 *       term in FP32.
 *   <li>without compensation: Y = Q(X_c)·Q(W)ᵀ, and the clamp is part of the activation quantizer
 *       and passed straight through with it, dX = dY·Q(W) everywhere (the official code's
 *       behaviour); dW = f'(W)⊙(dYᵀ·Q(X_c)).
 * </ul>
 *
 * @param alpha       quantile α in (0.5, 1]; 0.99 in the paper
 * @param granularity quantile groups: the whole tensor, each token (row) or each feature (column)
 * @param compensate  whether ΔX·Wᵀ is added back in FP32
 */
public record OutlierClamping(double alpha, OutlierClamp.Granularity granularity, boolean compensate) {

    /** Checks the arguments. */
    public OutlierClamping {
        Objects.requireNonNull(granularity, "granularity");
        if (!(alpha > 0.5 && alpha <= 1.0)) {
            throw new IllegalArgumentException("alpha must be in (0.5, 1], got " + alpha);
        }
    }

    /** A new clamp worker (it keeps scratch buffers; one per layer). */
    public OutlierClamp newClamp() {
        return new OutlierClamp(alpha, granularity);
    }

    @Override
    public String toString() {
        return "clamp(" + alpha + ", " + granularity.name().toLowerCase(java.util.Locale.ROOT)
                + (compensate ? ", compensated" : "") + ")";
    }
}
