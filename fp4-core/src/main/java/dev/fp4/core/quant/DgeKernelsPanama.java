package dev.fp4.core.quant;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link DgeKernels}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class DgeKernelsPanama {
    private DgeKernelsPanama() {
    }


    static final VectorSpecies<Float> F = PanamaSimd.FLOAT;

    /**
     * The vector twin: left and 1/δ start at the first interval's and each start at or below x
     * overrides them (the starts ascend), so one compare and one or two blends per start.
     */
    static void distancesVector(float[] x, int xOff, float[] t, int tOff, int n) {
        int j = 0;
        int bound = F.loopBound(n);
        for (; j < bound; j += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + j);
            FloatVector left = FloatVector.broadcast(F, -6f);
            FloatVector inv = FloatVector.broadcast(F, 0.5f);
            VectorMask<Float> m = v.compare(VectorOperators.GE, -4f);
            left = left.blend(-4f, m);
            inv = inv.blend(1f, m);
            left = left.blend(-3f, v.compare(VectorOperators.GE, -3f));
            m = v.compare(VectorOperators.GE, -2f);
            left = left.blend(-2f, m);
            inv = inv.blend(2f, m);
            left = left.blend(-1.5f, v.compare(VectorOperators.GE, -1.5f));
            left = left.blend(-1f, v.compare(VectorOperators.GE, -1f));
            left = left.blend(-0.5f, v.compare(VectorOperators.GE, -0.5f));
            left = left.blend(0f, v.compare(VectorOperators.GE, 0f));
            left = left.blend(0.5f, v.compare(VectorOperators.GE, 0.5f));
            left = left.blend(1f, v.compare(VectorOperators.GE, 1f));
            left = left.blend(1.5f, v.compare(VectorOperators.GE, 1.5f));
            m = v.compare(VectorOperators.GE, 2f);
            left = left.blend(2f, m);
            inv = inv.blend(1f, m);
            left = left.blend(3f, v.compare(VectorOperators.GE, 3f));
            m = v.compare(VectorOperators.GE, 4f);
            left = left.blend(4f, m);
            inv = inv.blend(0.5f, m);
            FloatVector d = v.sub(left).mul(2f).mul(inv).sub(1f).abs();
            d = d.blend(Float.NaN, v.compare(VectorOperators.LE, 6f).not()); // x > 6 or NaN
            d.intoArray(t, tOff + j);
        }
        for (; j < n; j++) {
            t[tOff + j] = DgeKernels.distance(x[xOff + j]);
        }
    }
}
