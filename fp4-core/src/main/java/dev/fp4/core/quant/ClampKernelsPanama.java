package dev.fp4.core.quant;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link ClampKernels}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class ClampKernelsPanama {
    private ClampKernelsPanama() {
    }


    static final VectorSpecies<Float> F = PanamaSimd.FLOAT;
    static final VectorSpecies<Integer> I = PanamaSimd.INT;

    static int toKeysVector(float[] x, int xOff, int len, int[] dst, int dOff) {
        int step = F.length();
        int bound = F.loopBound(len);
        int i = 0;
        for (; i < bound; i += step) {
            IntVector b = FloatVector.fromArray(F, x, xOff + i).reinterpretAsInts();
            VectorMask<Integer> bad = b.and(ClampKernels.EXP_MASK).compare(VectorOperators.EQ, ClampKernels.EXP_MASK);
            if (bad.anyTrue()) {
                return i + bad.firstTrue();
            }
            b.lanewise(VectorOperators.XOR, b.lanewise(VectorOperators.ASHR, 31).and(0x7FFFFFFF))
                    .intoArray(dst, dOff + i);
        }
        int tail = ClampKernels.toKeysScalar(x, xOff + i, len - i, dst, dOff + i);
        return tail < 0 ? -1 : i + tail;
    }

    static int bandPassVector(float[] x, int xOff, int len, int[] buf, int[] st, int sOff) {
        int step = F.length();
        int bound = F.loopBound(len);
        IntVector one = IntVector.broadcast(I, 1);
        IntVector a0 = IntVector.broadcast(I, st[sOff]);
        IntVector lo0 = IntVector.broadcast(I, st[sOff + 1]);
        IntVector width0 = IntVector.broadcast(I, st[sOff + 2]);
        IntVector a1 = IntVector.broadcast(I, st[sOff + 3]);
        IntVector lo1 = IntVector.broadcast(I, st[sOff + 4]);
        IntVector width1 = IntVector.broadcast(I, st[sOff + 5]);
        IntVector below0 = IntVector.zero(I);
        IntVector upTo0 = below0;
        IntVector below1 = below0;
        IntVector upTo1 = below0;
        IntVector exp = below0;
        int w0 = st[sOff + 10];
        int w1 = st[sOff + 11];
        int i = 0;
        for (; i < bound; i += step) {
            IntVector b = FloatVector.fromArray(F, x, xOff + i).reinterpretAsInts();
            // Non-finite iff the exponent field is all ones: its maximum over the block tells.
            exp = exp.max(b.and(ClampKernels.EXP_MASK));
            IntVector k = b.lanewise(VectorOperators.XOR, b.lanewise(VectorOperators.ASHR, 31).and(0x7FFFFFFF));
            below0 = below0.add(one, k.compare(VectorOperators.LT, a0));
            upTo0 = upTo0.add(one, k.compare(VectorOperators.LT, lo0));
            below1 = below1.add(one, k.compare(VectorOperators.LT, a1));
            upTo1 = upTo1.add(one, k.compare(VectorOperators.LT, lo1));
            VectorMask<Integer> in0 = k.sub(lo0).compare(VectorOperators.ULT, width0);
            VectorMask<Integer> in1 = k.sub(lo1).compare(VectorOperators.ULT, width1);
            // Unconditional compaction (faster than a branch here): the selected lanes first; the
            // rest lands past the write position and is overwritten by the next store.
            k.compress(in0).intoArray(buf, w0);
            w0 += in0.trueCount();
            k.compress(in1).intoArray(buf, w1);
            w1 += in1.trueCount();
        }
        if (exp.reduceLanes(VectorOperators.MAX) == ClampKernels.EXP_MASK) {
            for (int j = 0; j < bound; j++) {
                if ((Float.floatToRawIntBits(x[xOff + j]) & ClampKernels.EXP_MASK) == ClampKernels.EXP_MASK) {
                    return j;
                }
            }
        }
        st[sOff + 6] += below0.reduceLanes(VectorOperators.ADD);
        st[sOff + 7] += upTo0.reduceLanes(VectorOperators.ADD);
        st[sOff + 8] += below1.reduceLanes(VectorOperators.ADD);
        st[sOff + 9] += upTo1.reduceLanes(VectorOperators.ADD);
        st[sOff + 10] = w0;
        st[sOff + 11] = w1;
        return ClampKernels.bandPassScalarAt(x, xOff, i, len, buf, st, sOff);
    }

    static long countLessEqualVector(int[] a, int from, int to, int pivot) {
        int step = I.length();
        int bound = from + I.loopBound(to - from);
        IntVector one = IntVector.broadcast(I, 1);
        IntVector zero = IntVector.zero(I);
        IntVector lessAcc = zero;
        IntVector equalAcc = zero;
        int i = from;
        for (; i < bound; i += step) {
            IntVector v = IntVector.fromArray(I, a, i);
            lessAcc = lessAcc.add(one, v.compare(VectorOperators.LT, pivot));
            equalAcc = equalAcc.add(one, v.compare(VectorOperators.EQ, pivot));
        }
        int less = lessAcc.reduceLanes(VectorOperators.ADD);
        int equal = equalAcc.reduceLanes(VectorOperators.ADD);
        long tail = ClampKernels.countLessEqualScalar(a, i, to, pivot);
        return ((long) (less + (int) (tail >>> 32)) << 32) | (equal + (int) tail);
    }

    static int keepLessVector(int[] a, int from, int to, int p) {
        int step = I.length();
        int bound = from + I.loopBound(to - from);
        int w = from;
        int i = from;
        for (; i < bound; i += step) {
            long bits = IntVector.fromArray(I, a, i).compare(VectorOperators.LT, p).toLong();
            while (bits != 0) {
                // w <= i + lane: writes land on positions already read; a[i + lane] is still original.
                a[w++] = a[i + Long.numberOfTrailingZeros(bits)];
                bits &= bits - 1;
            }
        }
        for (; i < to; i++) {
            int v = a[i];
            a[w] = v;
            w += v < p ? 1 : 0;
        }
        return w;
    }

    static int keepGreaterVector(int[] a, int from, int to, int p) {
        int step = I.length();
        int bound = from + I.loopBound(to - from);
        int w = from;
        int i = from;
        for (; i < bound; i += step) {
            long bits = IntVector.fromArray(I, a, i).compare(VectorOperators.GT, p).toLong();
            while (bits != 0) {
                a[w++] = a[i + Long.numberOfTrailingZeros(bits)];
                bits &= bits - 1;
            }
        }
        for (; i < to; i++) {
            int v = a[i];
            a[w] = v;
            w += v > p ? 1 : 0;
        }
        return w;
    }

    static int clampVector(float[] x, int xOff, float[] out, int oOff, int len, float lower, float upper,
                           int[] nzCol, float[] nzVal, int nzOff) {
        int step = F.length();
        int bound = F.loopBound(len);
        FloatVector lo = FloatVector.broadcast(F, lower);
        FloatVector hi = FloatVector.broadcast(F, upper);
        int nz = 0;
        int i = 0;
        for (; i < bound; i += step) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + i);
            VectorMask<Float> below = v.compare(VectorOperators.LT, lo);
            VectorMask<Float> above = v.compare(VectorOperators.GT, hi);
            VectorMask<Float> outside = below.or(above);
            if (outside.anyTrue()) {
                // Rare (a few % of elements): record the residuals with the scalar arithmetic, reading
                // x before the store below may overwrite it.
                long bits = outside.toLong();
                while (bits != 0) {
                    int lane = Long.numberOfTrailingZeros(bits);
                    bits &= bits - 1;
                    float xv = x[xOff + i + lane];
                    if (nzCol != null) {
                        nzCol[nzOff + nz] = i + lane;
                        nzVal[nzOff + nz] = xv - (xv < lower ? lower : upper);
                    }
                    nz++;
                }
            }
            v.blend(lo, below).blend(hi, above).intoArray(out, oOff + i);
        }
        return nz + ClampKernels.clampScalarAt(x, xOff, out, oOff, i, len, lower, upper, nzCol, nzVal, nzOff + nz);
    }

    static int clampBoundsVector(float[] x, int xOff, float[] out, int oOff, int len, float[] lower,
                                 float[] upper, int bOff, int[] nzCol, float[] nzVal, int nzOff) {
        int step = F.length();
        int bound = F.loopBound(len);
        int nz = 0;
        int i = 0;
        for (; i < bound; i += step) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + i);
            FloatVector lo = FloatVector.fromArray(F, lower, bOff + i);
            FloatVector hi = FloatVector.fromArray(F, upper, bOff + i);
            VectorMask<Float> below = v.compare(VectorOperators.LT, lo);
            VectorMask<Float> above = v.compare(VectorOperators.GT, hi);
            VectorMask<Float> outside = below.or(above);
            if (outside.anyTrue()) {
                long bits = outside.toLong();
                while (bits != 0) {
                    int lane = Long.numberOfTrailingZeros(bits);
                    bits &= bits - 1;
                    float xv = x[xOff + i + lane];
                    float l = lower[bOff + i + lane];
                    if (nzCol != null) {
                        nzCol[nzOff + nz] = i + lane;
                        nzVal[nzOff + nz] = xv - (xv < l ? l : upper[bOff + i + lane]);
                    }
                    nz++;
                }
            }
            v.blend(lo, below).blend(hi, above).intoArray(out, oOff + i);
        }
        return nz + ClampKernels.clampBoundsScalarAt(x, xOff, out, oOff, i, len, lower, upper, bOff, nzCol, nzVal, nzOff + nz);
    }
}
