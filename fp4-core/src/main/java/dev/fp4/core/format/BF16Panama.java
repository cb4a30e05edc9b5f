package dev.fp4.core.format;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link BF16}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class BF16Panama {
    private static final VectorSpecies<Float> F = PanamaSimd.FLOAT;

    private BF16Panama() {
    }

    /** {@link BF16#roundInPlace}'s vector body. */
    static void roundInPlaceVector(float[] x, int off, int len) {
        int i = 0;
        int bound = F.loopBound(len);
        for (; i < bound; i += F.length()) {
            IntVector b = FloatVector.fromArray(F, x, off + i).reinterpretAsInts();
            VectorMask<Integer> nan = b.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000);
            IntVector rounded = b.add(b.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF);
            IntVector r = rounded.blend(b.or(0x00400000), nan).and(0xFFFF0000);
            r.reinterpretAsFloats().intoArray(x, off + i);
        }
        for (; i < len; i++) {
            x[off + i] = BF16.round(x[off + i]);
        }
    }
}
