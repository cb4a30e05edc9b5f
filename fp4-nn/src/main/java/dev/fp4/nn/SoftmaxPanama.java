package dev.fp4.nn;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link Softmax}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class SoftmaxPanama {
    private SoftmaxPanama() {
    }

    static final VectorSpecies<Float> S = PanamaSimd.FLOAT;
    static final int L = S.length();

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
}
