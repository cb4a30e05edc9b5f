package dev.fp4.core.quant;

import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels of {@link OutlierClamp}: sortable keys for selection, a pivot count for selection, and
 * the clamp with residual extraction. Each vector kernel has a scalar twin ({@code ...Scalar}); the
 * dispatching method picks one by {@link Simd#ENABLED}. Tests hold the pairs equal bit for bit.
 *
 * <p>Sortable keys: a finite float's bits mapped to an int whose signed order is the total order of
 * {@link Float#compare} (the order of {@link java.util.Arrays#sort(float[])}, −0 before +0):
 * {@code key = bits ^ ((bits >> 31) & 0x7FFFFFFF)}, an involution.
 */
final class ClampKernels {

    private static final VectorSpecies<Float> F = Simd.FLOAT;
    private static final VectorSpecies<Integer> I = Simd.INT;
    private static final int EXP_MASK = 0x7F800000;

    private ClampKernels() {
    }

    /** The sortable key of a float (see the class comment). */
    static int key(float x) {
        int b = Float.floatToRawIntBits(x);
        return b ^ ((b >> 31) & 0x7FFFFFFF);
    }

    /** The float of a sortable key. */
    static float fromKey(int k) {
        return Float.intBitsToFloat(k ^ ((k >> 31) & 0x7FFFFFFF));
    }

    // ---- keys ------------------------------------------------------------------------------------

    /**
     * dst[dOff+i] = key(x[xOff+i]) for i in [0, len); returns −1, or the first i whose x is not finite
     * (then the keys from that vector on are unspecified).
     */
    static int toKeys(float[] x, int xOff, int len, int[] dst, int dOff) {
        return Simd.ENABLED ? toKeysVector(x, xOff, len, dst, dOff) : toKeysScalar(x, xOff, len, dst, dOff);
    }

    static int toKeysScalar(float[] x, int xOff, int len, int[] dst, int dOff) {
        for (int i = 0; i < len; i++) {
            int b = Float.floatToRawIntBits(x[xOff + i]);
            if ((b & EXP_MASK) == EXP_MASK) {
                return i;
            }
            dst[dOff + i] = b ^ ((b >> 31) & 0x7FFFFFFF);
        }
        return -1;
    }

    static int toKeysVector(float[] x, int xOff, int len, int[] dst, int dOff) {
        int step = F.length();
        int bound = F.loopBound(len);
        int i = 0;
        for (; i < bound; i += step) {
            IntVector b = FloatVector.fromArray(F, x, xOff + i).reinterpretAsInts();
            VectorMask<Integer> bad = b.and(EXP_MASK).compare(VectorOperators.EQ, EXP_MASK);
            if (bad.anyTrue()) {
                return i + bad.firstTrue();
            }
            b.lanewise(VectorOperators.XOR, b.lanewise(VectorOperators.ASHR, 31).and(0x7FFFFFFF))
                    .intoArray(dst, dOff + i);
        }
        int tail = toKeysScalar(x, xOff + i, len - i, dst, dOff + i);
        return tail < 0 ? -1 : i + tail;
    }

    /** Keys of a strided sequence x[xOff + i·stride] (a column); scalar (a gather gains nothing here). */
    static int toKeysStrided(float[] x, int xOff, int stride, int len, int[] dst, int dOff) {
        for (int i = 0; i < len; i++) {
            int b = Float.floatToRawIntBits(x[xOff + i * stride]);
            if ((b & EXP_MASK) == EXP_MASK) {
                return i;
            }
            dst[dOff + i] = b ^ ((b >> 31) & 0x7FFFFFFF);
        }
        return -1;
    }

    // ---- pivot count -----------------------------------------------------------------------------

    /**
     * Counts the keys in a[from, to) below and equal to {@code pivot}: returns (less &lt;&lt; 32) | equal.
     */
    static long countLessEqual(int[] a, int from, int to, int pivot) {
        return Simd.ENABLED ? countLessEqualVector(a, from, to, pivot) : countLessEqualScalar(a, from, to, pivot);
    }

    static long countLessEqualScalar(int[] a, int from, int to, int pivot) {
        int less = 0;
        int equal = 0;
        for (int i = from; i < to; i++) {
            int v = a[i];
            less += v < pivot ? 1 : 0;
            equal += v == pivot ? 1 : 0;
        }
        return ((long) less << 32) | equal;
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
        long tail = countLessEqualScalar(a, i, to, pivot);
        return ((long) (less + (int) (tail >>> 32)) << 32) | (equal + (int) tail);
    }

    // ---- clamp with residual ---------------------------------------------------------------------

    /**
     * out[i] = x[i] &lt; lower ? lower : x[i] &gt; upper ? upper : x[i] for i in [0, len) (IEEE
     * comparisons: a value numerically equal to a bound is kept as it is, sign of zero included), and
     * for each clamped i, in increasing i, appends (i, x[i] − bound) at nzCol/nzVal[nzOff ..] unless
     * {@code nzCol} is null. {@code out} may be {@code x} at the same offset. Returns the number of
     * clamped elements.
     */
    static int clamp(float[] x, int xOff, float[] out, int oOff, int len, float lower, float upper,
                     int[] nzCol, float[] nzVal, int nzOff) {
        return Simd.ENABLED
                ? clampVector(x, xOff, out, oOff, len, lower, upper, nzCol, nzVal, nzOff)
                : clampScalar(x, xOff, out, oOff, len, lower, upper, nzCol, nzVal, nzOff);
    }

    static int clampScalar(float[] x, int xOff, float[] out, int oOff, int len, float lower, float upper,
                           int[] nzCol, float[] nzVal, int nzOff) {
        int nz = 0;
        for (int i = 0; i < len; i++) {
            float v = x[xOff + i];
            float c = v < lower ? lower : v > upper ? upper : v;
            if (c != v) {
                if (nzCol != null) {
                    nzCol[nzOff + nz] = i;
                    nzVal[nzOff + nz] = v - c;
                }
                nz++;
            }
            out[oOff + i] = c;
        }
        return nz;
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
        return nz + clampScalarAt(x, xOff, out, oOff, i, len, lower, upper, nzCol, nzVal, nzOff + nz);
    }

    /** The scalar loop from element {@code start}, recording columns relative to element 0. */
    private static int clampScalarAt(float[] x, int xOff, float[] out, int oOff, int start, int len,
                                     float lower, float upper, int[] nzCol, float[] nzVal, int nzOff) {
        int nz = 0;
        for (int i = start; i < len; i++) {
            float v = x[xOff + i];
            float c = v < lower ? lower : v > upper ? upper : v;
            if (c != v) {
                if (nzCol != null) {
                    nzCol[nzOff + nz] = i;
                    nzVal[nzOff + nz] = v - c;
                }
                nz++;
            }
            out[oOff + i] = c;
        }
        return nz;
    }

    /**
     * As {@link #clamp} with per-element bounds lower[bOff+i], upper[bOff+i] (a row of a matrix
     * clamped per column).
     */
    static int clampBounds(float[] x, int xOff, float[] out, int oOff, int len, float[] lower, float[] upper,
                           int bOff, int[] nzCol, float[] nzVal, int nzOff) {
        return Simd.ENABLED
                ? clampBoundsVector(x, xOff, out, oOff, len, lower, upper, bOff, nzCol, nzVal, nzOff)
                : clampBoundsScalar(x, xOff, out, oOff, len, lower, upper, bOff, nzCol, nzVal, nzOff);
    }

    static int clampBoundsScalar(float[] x, int xOff, float[] out, int oOff, int len, float[] lower,
                                 float[] upper, int bOff, int[] nzCol, float[] nzVal, int nzOff) {
        return clampBoundsScalarAt(x, xOff, out, oOff, 0, len, lower, upper, bOff, nzCol, nzVal, nzOff);
    }

    private static int clampBoundsScalarAt(float[] x, int xOff, float[] out, int oOff, int start, int len,
                                           float[] lower, float[] upper, int bOff, int[] nzCol,
                                           float[] nzVal, int nzOff) {
        int nz = 0;
        for (int i = start; i < len; i++) {
            float v = x[xOff + i];
            float l = lower[bOff + i];
            float u = upper[bOff + i];
            float c = v < l ? l : v > u ? u : v;
            if (c != v) {
                if (nzCol != null) {
                    nzCol[nzOff + nz] = i;
                    nzVal[nzOff + nz] = v - c;
                }
                nz++;
            }
            out[oOff + i] = c;
        }
        return nz;
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
        return nz + clampBoundsScalarAt(x, xOff, out, oOff, i, len, lower, upper, bOff, nzCol, nzVal, nzOff + nz);
    }
}
