package dev.fp4.core.quant;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link Fp8Quantizer}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class Fp8QuantizerPanama {
    private static final VectorSpecies<Float> F = PanamaSimd.FLOAT;
    private static final int L = F.length();

    private Fp8QuantizerPanama() {
    }

    /** {@link Fp8Quantizer#roundScaled}'s vector part: the whole vectors; returns how many elements it rounded. */
    static int roundScaledVector(float[] src, int srcOff, float[] dst, int dstOff, int len, float sf, float s, Fp8Format format) {
        int shift = 23 - format.mantissaBits();
        int half = (1 << (shift - 1)) - 1;
        int keep = -(1 << shift);
        float minNormal = Math.scalb(1f, format.minExponent());
        // Adding C = 2^(emin - m + 23) puts |y| < 2^emin where the FP32 ulp is the format's
        // subnormal quantum: the hardware's nearest-even addition rounds it, the subtraction is exact.
        float c = Math.scalb(1f, format.minExponent() - format.mantissaBits() + 23);
        float max = format.max();
        int i = 0;
        for (; i + L <= len; i += L) {
            FloatVector y = FloatVector.fromArray(F, src, srcOff + i).mul(sf);
            IntVector bits = y.reinterpretAsInts();
            IntVector sign = bits.and(0x80000000);
            IntVector mag = bits.and(0x7FFFFFFF);
            IntVector normal = mag.add(mag.lanewise(VectorOperators.LSHR, shift).and(1)).add(half).and(keep);
            FloatVector a = mag.reinterpretAsFloats();
            FloatVector sub = a.add(c).sub(c);
            VectorMask<Float> small = a.compare(VectorOperators.LT, minNormal);
            FloatVector r = normal.reinterpretAsFloats().blend(sub, small).min(max);
            FloatVector out = r.reinterpretAsInts().or(sign).reinterpretAsFloats().mul(s);
            out = out.blend(Float.NaN, y.test(VectorOperators.IS_NAN));
            out.intoArray(dst, dstOff + i);
        }
        return i;
    }
}
