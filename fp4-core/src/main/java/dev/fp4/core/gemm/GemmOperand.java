package dev.fp4.core.gemm;

import dev.fp4.core.quant.Fp4Tensor;
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
     * @param tmp scratch of at least 16·{@code kc} floats, owned by the calling thread
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

    /**
     * An {@link Fp4Tensor} operand, decoded while packing. When its scale blocks span the whole
     * reduction the packed values are the bare E2M1 values (multiples of 1/2) and the block scale
     * times the tensor scale becomes the outer factor; otherwise the block scales are folded into
     * the packed values (exact: E2M1 × power of two or × E4M3 needs at most 6 significant bits) and
     * only the tensor scale is outer.
     */
    static final class Fp4 extends GemmOperand {
        /** Rows decoded at a time before an x-major block is transposed into a panel. */
        static final int GROUP = 16;
        Fp4Tensor t;
        /** true: tensor rows run along the reduction (X[x, p] = t[p, x]); false: X[x, p] = t[x, p]. */
        boolean kMajor;
        /** Scale constant along the reduction: factored out of the packed values. */
        boolean factored;

        Fp4 set(Fp4Tensor t, boolean kMajor) {
            this.t = t;
            this.kMajor = kMajor;
            this.factored = spansReduction(t, kMajor);
            return this;
        }

        /** Whether one scale block covers the whole reduction dimension of t. */
        static boolean spansReduction(Fp4Tensor t, boolean kMajor) {
            if (kMajor) {
                int br = t.scheme().blockRows();
                return br == 0 || br >= t.rows();
            }
            int bc = t.scheme().blockCols();
            return bc == 0 || bc >= t.cols();
        }

        void clear() {
            t = null;
        }

        @Override
        void pack(float[] dst, int doff, int x0, int len, int p0, int kc, int width, float[] tmp) {
            boolean scales = !factored;
            if (kMajor) {
                for (int q = 0; q < kc; q++) {
                    t.decodeRow(p0 + q, x0, len, dst, doff + q * width, scales);
                }
            } else {
                for (int g = 0; g < len; g += GROUP) {
                    int rows = Math.min(GROUP, len - g);
                    for (int r = 0; r < rows; r++) {
                        t.decodeRow(x0 + g + r, p0, kc, tmp, r * kc, scales);
                    }
                    transposeInto(tmp, 0, kc, rows, kc, dst, doff + g, width);
                }
            }
            zeroPad(dst, doff, len, kc, width);
        }

        @Override
        float outer(int x) {
            if (!factored) {
                return t.tensorScale();
            }
            return (kMajor ? t.scale(0, x) : t.scale(x, 0)) * t.tensorScale();
        }
    }
}
