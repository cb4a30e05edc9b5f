package dev.fp4.nn;

import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row softmax with a temperature, numerically stable (the row maximum is subtracted first), and
 * its backward. Built from {@link VectorOps} kernels, so its results are the same at every vector
 * width.
 */
public final class Softmax {
    private static final VectorSpecies<Float> S = Simd.FLOAT;
    private static final int L = S.length();

    private Softmax() {
    }

    /**
     * dst = softmax(scale · src) over [0, len), len ≥ 1; dst may alias src. Returns the
     * log-sum-exp of scale·src, i.e. log Σ exp(scale·src[i]).
     */
    public static float forward(float[] src, int srcOff, float[] dst, int dstOff, int len, float scale) {
        float m = VectorOps.max(src, srcOff, len);
        VectorOps.expAffine(src, srcOff, dst, dstOff, len, m, scale);
        float sum = VectorOps.sum(dst, dstOff, len);
        VectorOps.scale(dst, dstOff, len, 1f / sum);
        return (float) (m * (double) scale + Math.log(sum));
    }

    /**
     * Backward of {@code p = softmax(scale·s)}: ds = scale · p ⊙ (dp − Σ p⊙dp) over [0, len); ds may
     * alias dp.
     */
    public static void backward(float[] p, int pOff, float[] dp, int dpOff, float[] ds, int dsOff, int len, float scale) {
        float d = VectorOps.dot(p, pOff, dp, dpOff, len);
        if (Simd.ENABLED) {
            backwardVector(p, pOff, dp, dpOff, ds, dsOff, len, scale, d);
        } else {
            backwardScalar(p, pOff, dp, dpOff, ds, dsOff, len, scale, d);
        }
    }

    static void backwardVector(float[] p, int pOff, float[] dp, int dpOff, float[] ds, int dsOff, int len,
                               float scale, float d) {
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += L) {
            FloatVector.fromArray(S, p, pOff + i).mul(FloatVector.fromArray(S, dp, dpOff + i).sub(d)).mul(scale)
                    .intoArray(ds, dsOff + i);
        }
        for (; i < len; i++) {
            ds[dsOff + i] = p[pOff + i] * (dp[dpOff + i] - d) * scale;
        }
    }

    static void backwardScalar(float[] p, int pOff, float[] dp, int dpOff, float[] ds, int dsOff, int len,
                               float scale, float d) {
        for (int i = 0; i < len; i++) {
            ds[dsOff + i] = p[pOff + i] * (dp[dpOff + i] - d) * scale;
        }
    }
}
