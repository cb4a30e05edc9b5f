package dev.fp4.core.gemm;

import java.util.Arrays;

/**
 * One operand of the blocked GeMM seen as a logical matrix X[x, p] with an outer index x (a row of
 * C for the left operand, a column of C for the right one) and the reduction index p. It knows how
 * to copy (or decode) a panel of itself into the packed layout the micro-kernel reads, and which
 * scale it contributes per outer index when its scale is constant along the reduction.
 */
abstract class GemmOperand {

    /**
     * Writes X[x0 + t, p0 + q] to {@code dst[off + q·width + t]} for t &lt; len and q &lt; kc, and
     * zeros for len ≤ t &lt; width.
     *
     * @param tmp scratch of at least {@code kc} floats, owned by the calling thread
     */
    abstract void pack(float[] dst, int off, int x0, int len, int p0, int kc, int width, float[] tmp);

    /** Factor applied to every output element in this operand's row/column x (1 for FP32). */
    abstract float outer(int x);

    /** Zeros the padding columns t in [len, width) of a packed panel of kc steps. */
    static void zeroPad(float[] dst, int off, int len, int kc, int width) {
        if (len == width) {
            return;
        }
        for (int q = 0; q < kc; q++) {
            int d = off + q * width;
            Arrays.fill(dst, d + len, d + width, 0f);
        }
    }

    /**
     * Copies a transposed block: dst[off + q·width + t] = src[srcOff + t·ld + q] for t &lt; len,
     * q &lt; kc, in strips of 16 steps so both sides stay within a few cache lines.
     */
    static void transposeInto(float[] src, int srcOff, int ld, int len, int kc, float[] dst, int off, int width) {
        for (int q0 = 0; q0 < kc; q0 += 16) {
            int q1 = Math.min(kc, q0 + 16);
            for (int t = 0; t < len; t++) {
                int s = srcOff + t * ld;
                int d = off + t;
                for (int q = q0; q < q1; q++) {
                    dst[d + q * width] = src[s + q];
                }
            }
        }
    }

    /** A row-major FP32 array with an offset and a leading dimension. */
    static final class Floats extends GemmOperand {
        float[] a;
        int off;
        int ld;
        /** true: X[x, p] = a[off + p·ld + x] (the reduction runs down the rows); false: a[off + x·ld + p]. */
        boolean kMajor;

        Floats set(float[] a, int off, int ld, boolean kMajor) {
            this.a = a;
            this.off = off;
            this.ld = ld;
            this.kMajor = kMajor;
            return this;
        }

        void clear() {
            a = null;
        }

        @Override
        void pack(float[] dst, int doff, int x0, int len, int p0, int kc, int width, float[] tmp) {
            if (kMajor) {
                for (int q = 0; q < kc; q++) {
                    System.arraycopy(a, off + (p0 + q) * ld + x0, dst, doff + q * width, len);
                }
            } else {
                transposeInto(a, off + x0 * ld + p0, ld, len, kc, dst, doff, width);
            }
            zeroPad(dst, doff, len, kc, width);
        }

        @Override
        float outer(int x) {
            return 1f;
        }
    }
}
