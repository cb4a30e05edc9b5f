package dev.fp4.core.gemm;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link GemmOperand}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class GemmOperandPanama {
    private static final VectorSpecies<Float> F = PanamaSimd.FLOAT;

    private GemmOperandPanama() {
    }

    /**
     * Moves {@code len / width} whole panels of a narrow operand (width ≤ the float lanes) with one
     * masked load and store each: src[s + t0, +width) to dst[d + (t0/width)·panelStride, +width).
     */
    static void spreadPanels(float[] src, int s, int len, float[] dst, int d, int width, int panelStride) {
        VectorMask<Float> m = F.indexInRange(0, width);
        for (int t0 = 0; t0 < len; t0 += width, d += panelStride) {
            FloatVector.fromArray(F, src, s + t0, m).intoArray(dst, d, m);
        }
    }
}
