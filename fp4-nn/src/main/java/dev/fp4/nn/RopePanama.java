package dev.fp4.nn;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link Rope}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class RopePanama {
    private RopePanama() {
    }

    static final VectorSpecies<Float> S = PanamaSimd.FLOAT;
    static final int L = S.length();

    static void rotateVector(float[] x, int off, float[] cos, float[] sin, int tab, int half, boolean inverse) {
        int i = 0;
        for (int bound = S.loopBound(half); i < bound; i += L) {
            FloatVector a = FloatVector.fromArray(S, x, off + i);
            FloatVector b = FloatVector.fromArray(S, x, off + half + i);
            FloatVector c = FloatVector.fromArray(S, cos, tab + i);
            FloatVector s = FloatVector.fromArray(S, sin, tab + i);
            if (inverse) {
                a.mul(c).add(b.mul(s)).intoArray(x, off + i);
                b.mul(c).sub(a.mul(s)).intoArray(x, off + half + i);
            } else {
                a.mul(c).sub(b.mul(s)).intoArray(x, off + i);
                a.mul(s).add(b.mul(c)).intoArray(x, off + half + i);
            }
        }
        for (; i < half; i++) {
            Rope.rotatePair(x, off + i, off + half + i, cos[tab + i], sin[tab + i], inverse);
        }
    }
}
