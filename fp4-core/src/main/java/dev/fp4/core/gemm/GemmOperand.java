package dev.fp4.core.gemm;

import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.core.simd.Simd;
import java.util.Arrays;

/**
 * One operand of the blocked GeMM seen as a logical matrix X[x, p] with an outer index x (a row of
 * C for the left operand, a column of C for the right one) and the reduction index p. It knows how
 * to copy (or decode) a panel of itself into the packed layout the micro-kernel reads, and which
 * scale it contributes per outer index when its scale is constant along the reduction.
 */
abstract class GemmOperand {

    /** true: the reduction runs down the rows of the stored matrix (X[x, p] is element [p, x]). */
    boolean kMajor;

    /**
     * Packs X[x0 .. x0+len, p0 .. p0+kc) into panels of {@code width} outer indices: element
     * (x0 + t, p0 + q) goes to {@code dst[dstOff + (t / width)·kc·width + q·width + t % width]}; the
     * last panel is padded with zeros up to a multiple of width.
     *
     * @param tmp scratch owned by the calling thread, at least max(16·kc, len) floats
     */
    abstract void pack(float[] dst, int dstOff, int x0, int len, int p0, int kc, int width, float[] tmp);

    /**
     * Packs X[x0 .. x0+len, p0 .. p0+kc) of an x-major operand (not {@link #kMajor}) into the left
     * operand's row-major panels: element (x0 + t, p0 + q) goes to {@code dst[dstOff + t·kc + q]},
     * rows len .. roundUp(len, width) zeros. A copy or a decode per row, no transpose; the
     * micro-kernel reads these panels as it reads whole rows of an FP32 operand in place (leading
     * dimension kc instead of the operand's). A k-major left operand is {@link #pack packed}.
     */
    abstract void packRows(float[] dst, int dstOff, int x0, int len, int p0, int kc, int width);

    /** Zeros rows len .. roundUp(len, width) of row-major panels ({@link #packRows}). */
    static void zeroPadRows(float[] dst, int dstOff, int len, int kc, int width) {
        int padded = (len + width - 1) / width * width;
        Arrays.fill(dst, dstOff + len * kc, dstOff + padded * kc, 0f);
    }

    /** Factor applied to every output element in this operand's row/column x (1 for FP32). */
    abstract float outer(int x);

    /** Zeros the padding of the last panel (outer indices len .. roundUp(len, width)). */
    static void zeroPad(float[] dst, int dstOff, int len, int kc, int width) {
        int used = len % width;
        if (used == 0) {
            return;
        }
        int off = dstOff + (len / width) * kc * width;
        for (int q = 0; q < kc; q++) {
            int d = off + q * width;
            Arrays.fill(dst, d + used, d + width, 0f);
        }
    }

    /**
     * Distributes kc rows of a k-major source (row q holds outer indices 0..len from
     * {@code src[srcOff + q·ld]}) into panels.
     */
    static void panelsFromRows(float[] src, int srcOff, int ld, int len, int kc, float[] dst, int dstOff, int width) {
        for (int q = 0; q < kc; q++) {
            spreadRow(src, srcOff + q * ld, len, dst, dstOff + q * width, kc, width);
        }
    }

    /**
     * Spreads one reduction row (outer indices 0..len from {@code src[s]}) into the panels, its first
     * element going to {@code dst[d]} (row q of the first panel is at q·width from the panels' start).
     * Narrow panels (the MR-tall left operand) move with one masked vector load and store each (or
     * element by element without vectors): a 6-float arraycopy costs more than the copy itself.
     */
    static void spreadRow(float[] src, int s, int len, float[] dst, int d, int kc, int width) {
        int panelStride = kc * width;
        if (width >= 16) {
            for (int t0 = 0; t0 < len; t0 += width, d += panelStride) {
                System.arraycopy(src, s + t0, dst, d, Math.min(width, len - t0));
            }
            return;
        }
        int t0 = 0;
        if (Simd.ENABLED && width <= Simd.FLOAT_LANES) {
            // One masked vector move per panel instead of width element copies (the same values).
            t0 = len - len % width;
            GemmOperandPanama.spreadPanels(src, s, t0, dst, d, width, panelStride);
            d += t0 / width * panelStride;
        }
        for (; t0 < len; t0 += width, d += panelStride) {
            int w = Math.min(width, len - t0);
            int from = s + t0;
            for (int t = 0; t < w; t++) {
                dst[d + t] = src[from + t];
            }
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
        /** Leading dimension; X[x, p] = a[off + p·ld + x] when {@link #kMajor}, else a[off + x·ld + p]. */
        int ld;

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
        void pack(float[] dst, int dstOff, int x0, int len, int p0, int kc, int width, float[] tmp) {
            if (kMajor) {
                panelsFromRows(a, off + p0 * ld + x0, ld, len, kc, dst, dstOff, width);
            } else {
                for (int t0 = 0; t0 < len; t0 += width) {
                    transposeInto(a, off + (x0 + t0) * ld + p0, ld, Math.min(width, len - t0), kc,
                            dst, dstOff + (t0 / width) * kc * width, width);
                }
            }
            zeroPad(dst, dstOff, len, kc, width);
        }

        @Override
        void packRows(float[] dst, int dstOff, int x0, int len, int p0, int kc, int width) {
            for (int t = 0; t < len; t++) {
                System.arraycopy(a, off + (x0 + t) * ld + p0, dst, dstOff + t * kc, kc);
            }
            zeroPadRows(dst, dstOff, len, kc, width);
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
        void pack(float[] dst, int dstOff, int x0, int len, int p0, int kc, int width, float[] tmp) {
            boolean scales = !factored;
            if (kMajor) {
                // One decode per reduction row over the whole block, then spread into panels.
                for (int q = 0; q < kc; q++) {
                    t.decodeRow(p0 + q, x0, len, tmp, 0, scales);
                    spreadRow(tmp, 0, len, dst, dstOff + q * width, kc, width);
                }
            } else {
                // Per panel, decode up to GROUP of its rows, then transpose them into place.
                for (int t0 = 0; t0 < len; t0 += width) {
                    int pw = Math.min(width, len - t0);
                    int panel = dstOff + (t0 / width) * kc * width;
                    for (int g = 0; g < pw; g += GROUP) {
                        int rows = Math.min(GROUP, pw - g);
                        for (int r = 0; r < rows; r++) {
                            t.decodeRow(x0 + t0 + g + r, p0, kc, tmp, r * kc, scales);
                        }
                        transposeInto(tmp, 0, kc, rows, kc, dst, panel + g, width);
                    }
                }
            }
            zeroPad(dst, dstOff, len, kc, width);
        }

        @Override
        void packRows(float[] dst, int dstOff, int x0, int len, int p0, int kc, int width) {
            for (int r = 0; r < len; r++) {
                t.decodeRow(x0 + r, p0, kc, dst, dstOff + r * kc, !factored);
            }
            zeroPadRows(dst, dstOff, len, kc, width);
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
