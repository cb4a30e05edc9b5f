package dev.fp4.nn;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link SwiGLU}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class SwiGLUPanama {
    private SwiGLUPanama() {
    }

    static final VectorSpecies<Float> S = PanamaSimd.FLOAT;
    static final int L = S.length();

    static void forwardVector(float[] g, int gOff, float[] u, int uOff, float[] h, int hOff, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector gv = FloatVector.fromArray(S, g, gOff + i);
            FloatVector sig = FloatVector.broadcast(S, 1f).div(FloatVector.fromArray(S, h, hOff + i).add(1f));
            gv.mul(sig).mul(FloatVector.fromArray(S, u, uOff + i)).intoArray(h, hOff + i);
        }
        for (; i < n; i++) {
            float sig = 1f / (h[hOff + i] + 1f);
            h[hOff + i] = g[gOff + i] * sig * u[uOff + i];
        }
    }

    static void backwardVector(float[] g, int gOff, float[] u, int uOff, float[] dh, int dhOff,
                               float[] dg, int dgOff, float[] du, int duOff, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector gv = FloatVector.fromArray(S, g, gOff + i);
            FloatVector dhv = FloatVector.fromArray(S, dh, dhOff + i);
            FloatVector sig = FloatVector.broadcast(S, 1f).div(FloatVector.fromArray(S, dg, dgOff + i).add(1f));
            FloatVector dsilu = sig.mul(gv.mul(FloatVector.broadcast(S, 1f).sub(sig)).add(1f));
            dhv.mul(FloatVector.fromArray(S, u, uOff + i)).mul(dsilu).intoArray(dg, dgOff + i);
            dhv.mul(gv.mul(sig)).intoArray(du, duOff + i);
        }
        for (; i < n; i++) {
            SwiGLU.backwardOne(g, gOff + i, u, uOff + i, dh, dhOff + i, dg, dgOff + i, du, duOff + i);
        }
    }
}
