package dev.fp4.nn.optim;

import dev.fp4.nn.Parameter;
import java.util.List;

/** Global gradient-norm clipping over all parameters, as {@code torch.nn.utils.clip_grad_norm_}. */
public final class GradientClipping {
    private GradientClipping() {
    }

    /**
     * The L2 norm of all gradients taken together, accumulated in double in parameter order then
     * element order (deterministic). NaN or infinity when a gradient holds one.
     */
    public static double globalNorm(List<Parameter> params) {
        double sum = 0;
        for (Parameter p : params) {
            float[] g = p.grad();
            for (float x : g) {
                sum += (double) x * x;
            }
        }
        return Math.sqrt(sum);
    }

    /**
     * Scales every gradient by c = maxNorm / (norm + 1e-6) when the global norm exceeds
     * {@code maxNorm} (PyTorch's rule), so the clipped norm is at most maxNorm. A non-finite norm
     * leaves the gradients untouched: the caller must detect it (the trainer's NaN guard does).
     *
     * @param maxNorm positive threshold
     * @return the global norm before clipping
     */
    public static double clipGlobalNorm(List<Parameter> params, double maxNorm) {
        if (!(maxNorm > 0) || Double.isInfinite(maxNorm)) {
            throw new IllegalArgumentException("maxNorm must be positive and finite, got " + maxNorm);
        }
        double norm = globalNorm(params);
        if (Double.isFinite(norm) && norm > maxNorm) {
            float c = (float) (maxNorm / (norm + 1e-6));
            for (Parameter p : params) {
                float[] g = p.grad();
                for (int i = 0; i < g.length; i++) {
                    g[i] *= c;
                }
            }
        }
        return norm;
    }
}
