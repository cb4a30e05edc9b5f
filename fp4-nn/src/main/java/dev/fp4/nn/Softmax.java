package dev.fp4.nn;

import dev.fp4.core.simd.Simd;
import java.util.Objects;

/**
 * Row softmax with a temperature, numerically stable (the row maximum is subtracted first), and
 * its backward. Built from {@link VectorOps} kernels, so its results are the same at every vector
 * width.
 */
public final class Softmax {

    private Softmax() {
    }

    /**
     * dst = softmax(scale · src) over [0, len), len ≥ 1; dst may alias src. Returns the
     * log-sum-exp of scale·src, i.e. log Σ exp(scale·src[i]).
     *
     * @throws IllegalArgumentException  when len &lt; 1
     * @throws IndexOutOfBoundsException when a range [off, off + len) does not fit its array (nothing is written then)
     */
    public static float forward(float[] src, int srcOff, float[] dst, int dstOff, int len, float scale) {
        if (len < 1) {
            throw new IllegalArgumentException("softmax needs len >= 1, got " + len);
        }
        Objects.checkFromIndexSize(srcOff, len, src.length);
        Objects.checkFromIndexSize(dstOff, len, dst.length);
        float m = VectorOps.max(src, srcOff, len);
        VectorOps.expAffine(src, srcOff, dst, dstOff, len, m, scale);
        float sum = VectorOps.sum(dst, dstOff, len);
        VectorOps.scale(dst, dstOff, len, 1f / sum);
        return (float) (m * (double) scale + StrictMath.log(sum));
    }

    /**
     * Backward of {@code p = softmax(scale·s)}: ds = scale · p ⊙ (dp − Σ p⊙dp) over [0, len); ds may
     * alias dp.
     *
     * @throws IndexOutOfBoundsException when a range [off, off + len) does not fit its array (nothing is written then)
     */
    public static void backward(float[] p, int pOff, float[] dp, int dpOff, float[] ds, int dsOff, int len, float scale) {
        Objects.checkFromIndexSize(pOff, len, p.length);
        Objects.checkFromIndexSize(dpOff, len, dp.length);
        Objects.checkFromIndexSize(dsOff, len, ds.length);
        float d = VectorOps.dot(p, pOff, dp, dpOff, len);
        if (Simd.ENABLED) {
            SoftmaxPanama.backwardVector(p, pOff, dp, dpOff, ds, dsOff, len, scale, d);
        } else {
            backwardScalar(p, pOff, dp, dpOff, ds, dsOff, len, scale, d);
        }
    }

    static void backwardScalar(float[] p, int pOff, float[] dp, int dpOff, float[] ds, int dsOff, int len,
                               float scale, float d) {
        for (int i = 0; i < len; i++) {
            ds[dsOff + i] = p[pOff + i] * (dp[dpOff + i] - d) * scale;
        }
    }
}
