package dev.fp4.core.quant;

import dev.fp4.core.simd.Simd;

/**
 * Kernels of {@link OutlierClamp}: sortable keys for selection, a pivot count and a compaction
 * pass for selection, and the clamp with residual extraction. Each vector kernel has a scalar twin ({@code ...Scalar}); the
 * dispatching method picks one by {@link Simd#ENABLED}. Tests hold the pairs equal bit for bit.
 *
 * <p>Sortable keys: a finite float's bits mapped to an int whose signed order is the total order of
 * {@link Float#compare} (the order of {@link java.util.Arrays#sort(float[])}, −0 before +0):
 * {@code key = bits ^ ((bits >> 31) & 0x7FFFFFFF)}, an involution.
 */
final class ClampKernels {
    static final int EXP_MASK = 0x7F800000;

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
        return Simd.ENABLED ? ClampKernelsPanama.toKeysVector(x, xOff, len, dst, dOff) : toKeysScalar(x, xOff, len, dst, dOff);
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

    // ---- band pass (both quantiles at once) ---------------------------------------------------------

    /** Ints of band-pass state the kernel reads and updates (see {@link #bandPass}). */
    static final int BAND_STATE = 12;
    /** Ints a vector band pass may write past a final write position (unselected lanes of a compaction). */
    static final int BAND_SLACK = 64;

    /**
     * One pass of the two-band selection of {@link OutlierClamp} over x[xOff, xOff + len). The state
     * st[sOff ..] holds, for the bands j = 0, 1 with keys (a_j, b_j] (a_j + 1 not overflowing):
     * <pre>
     *   st[3j] = a_j,  st[3j+1] = a_j + 1,  st[3j+2] = b_j − a_j   (the width; 0: the band keeps nothing)
     *   st[6+2j] += #(key &lt; a_j),  st[7+2j] += #(key &lt; a_j + 1)
     *   st[10+j]: write position in buf; each key in band j is appended there, in order
     * </pre>
     * A key is in band j iff a_j &lt; key ≤ b_j, tested as (key − (a_j + 1)) &lt; width, unsigned. A vector
     * pass may also write up to {@link #BAND_SLACK} ints past each final write position (unspecified
     * values), even for an empty band. Returns −1, or the first i whose x is not finite (then the state is unspecified).
     */
    static int bandPass(float[] x, int xOff, int len, int[] buf, int[] st, int sOff) {
        return Simd.ENABLED ? ClampKernelsPanama.bandPassVector(x, xOff, len, buf, st, sOff) : bandPassScalar(x, xOff, len, buf, st, sOff);
    }

    static int bandPassScalar(float[] x, int xOff, int len, int[] buf, int[] st, int sOff) {
        return bandPassScalarAt(x, xOff, 0, len, buf, st, sOff);
    }

    /** The scalar pass over x[xOff + start, xOff + len), reporting bad indices relative to xOff. */
    static int bandPassScalarAt(float[] x, int xOff, int start, int len, int[] buf, int[] st, int sOff) {
        int a0 = st[sOff];
        int lo0 = st[sOff + 1];
        int width0 = st[sOff + 2];
        int a1 = st[sOff + 3];
        int lo1 = st[sOff + 4];
        int width1 = st[sOff + 5];
        int below0 = 0;
        int upTo0 = 0;
        int below1 = 0;
        int upTo1 = 0;
        int w0 = st[sOff + 10];
        int w1 = st[sOff + 11];
        for (int i = start; i < len; i++) {
            int b = Float.floatToRawIntBits(x[xOff + i]);
            if ((b & EXP_MASK) == EXP_MASK) {
                return i;
            }
            int k = b ^ ((b >> 31) & 0x7FFFFFFF);
            below0 += k < a0 ? 1 : 0;
            upTo0 += k < lo0 ? 1 : 0;
            below1 += k < a1 ? 1 : 0;
            upTo1 += k < lo1 ? 1 : 0;
            if (Integer.compareUnsigned(k - lo0, width0) < 0) {
                buf[w0++] = k;
            }
            if (Integer.compareUnsigned(k - lo1, width1) < 0) {
                buf[w1++] = k;
            }
        }
        st[sOff + 6] += below0;
        st[sOff + 7] += upTo0;
        st[sOff + 8] += below1;
        st[sOff + 9] += upTo1;
        st[sOff + 10] = w0;
        st[sOff + 11] = w1;
        return -1;
    }

    // ---- pivot count -----------------------------------------------------------------------------

    /**
     * Counts the keys in a[from, to) below and equal to {@code pivot}: returns (less &lt;&lt; 32) | equal.
     */
    static long countLessEqual(int[] a, int from, int to, int pivot) {
        return Simd.ENABLED ? ClampKernelsPanama.countLessEqualVector(a, from, to, pivot) : countLessEqualScalar(a, from, to, pivot);
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

    // ---- compaction (the partition pass of selection) ----------------------------------------------

    /**
     * Moves the keys &lt; p of a[from, to) to its front, in their order; returns the end of them.
     * In place: a key is only written to a position already read.
     */
    static int keepLess(int[] a, int from, int to, int p) {
        return Simd.ENABLED ? keepVector(a, from, to, p, true) : keepScalar(a, from, to, p, true);
    }

    /** As {@link #keepLess} for the keys &gt; p. */
    static int keepGreater(int[] a, int from, int to, int p) {
        return Simd.ENABLED ? keepVector(a, from, to, p, false) : keepScalar(a, from, to, p, false);
    }

    static int keepScalar(int[] a, int from, int to, int p, boolean less) {
        int w = from;
        if (less) {
            for (int i = from; i < to; i++) {
                int v = a[i];
                a[w] = v; // w <= i
                w += v < p ? 1 : 0;
            }
        } else {
            for (int i = from; i < to; i++) {
                int v = a[i];
                a[w] = v;
                w += v > p ? 1 : 0;
            }
        }
        return w;
    }

    /**
     * Vector compaction: compare a vector with the pivot, then copy only the selected lanes (work per
     * vector plus per kept key; the clamp's quantiles keep a few % after a sampled pivot).
     */
    static int keepVector(int[] a, int from, int to, int p, boolean less) {
        // One loop per comparison: the Vector API intrinsifies only constant operators.
        return less ? ClampKernelsPanama.keepLessVector(a, from, to, p) : ClampKernelsPanama.keepGreaterVector(a, from, to, p);
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
                ? ClampKernelsPanama.clampVector(x, xOff, out, oOff, len, lower, upper, nzCol, nzVal, nzOff)
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

    /** The scalar loop from element {@code start}, recording columns relative to element 0. */
    static int clampScalarAt(float[] x, int xOff, float[] out, int oOff, int start, int len,
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
                ? ClampKernelsPanama.clampBoundsVector(x, xOff, out, oOff, len, lower, upper, bOff, nzCol, nzVal, nzOff)
                : clampBoundsScalar(x, xOff, out, oOff, len, lower, upper, bOff, nzCol, nzVal, nzOff);
    }

    static int clampBoundsScalar(float[] x, int xOff, float[] out, int oOff, int len, float[] lower,
                                 float[] upper, int bOff, int[] nzCol, float[] nzVal, int nzOff) {
        return clampBoundsScalarAt(x, xOff, out, oOff, 0, len, lower, upper, bOff, nzCol, nzVal, nzOff);
    }

    static int clampBoundsScalarAt(float[] x, int xOff, float[] out, int oOff, int start, int len,
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
}
