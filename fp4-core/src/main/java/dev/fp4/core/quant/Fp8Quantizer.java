package dev.fp4.core.quant;

import dev.fp4.core.simd.Simd;
import java.util.Objects;

/**
 * FP8 fake quantization (quantize and dequantize in place) with power-of-two scales, for the FP8
 * GeMMs of the precision recipes (FP8-LM style: E4M3 operands, E5M2 optional for gradients).
 *
 * <p>Scale: sf = 2^e, the largest power of two with amax·sf ≤ max of the format (448 or 57344),
 * computed exactly from amax's bits (exponent capped at 127); amax = 0 gives sf = 1. Then
 * x̂ = fp8(x·sf)·(1/sf) with fp8 the round-to-nearest-even, saturating conversion. Both products
 * are exact (powers of two; the only values that could lose bits in x·sf lie far below the
 * format's smallest subnormal and round to zero either way), so x̂ is x rounded once to the
 * scaled FP8 grid. The returned scale is the decode scale s = 1/sf (x̂ = fp8 value · s).
 *
 * <p>Non-finite input is rejected with an {@link IllegalArgumentException} naming the first
 * non-finite element; the input is then unchanged.
 */
public final class Fp8Quantizer {


    private Fp8Quantizer() {
    }

    /**
     * Fake-quantizes {@code x[off, off+len)} to FP8 with one power-of-two scale.
     *
     * @return the decode scale s = 1/sf
     * @throws IllegalArgumentException if an element is NaN or infinite (naming its index)
     */
    public static float fakeQuantize(float[] x, int off, int len, Fp8Format format) {
        Objects.requireNonNull(format, "format");
        Objects.checkFromIndexSize(off, len, x.length);
        float amax = QuantKernels.absMax(x, off, len);
        if (!(amax < Float.POSITIVE_INFINITY)) {
            int i = QuantKernels.firstNonFinite(x, off, len);
            throw new NonFiniteValueException("non-finite value " + x[off + i] + " at index " + i
                    + ": FP8 fake quantization accepts only finite input");
        }
        int e = scaleExponent(amax, format);
        float sf = Math.scalb(1f, e);
        float s = Math.scalb(1f, -e);
        roundScaled(x, off, len, sf, s, format);
        return s;
    }

    /**
     * Fake-quantizes each row of the row-major [rows, cols] matrix at {@code x[off ..]} with its own
     * power-of-two scale, writing the decode scales to {@code scales[scalesOff, scalesOff+rows)}.
     * All rows are checked before any is changed.
     *
     * @throws IllegalArgumentException on non-finite input, naming (row, col)
     */
    public static void fakeQuantizeRows(float[] x, int off, int rows, int cols, Fp8Format format, float[] scales,
            int scalesOff) {
        Objects.requireNonNull(format, "format");
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("shape must be >= 0, got [" + rows + ", " + cols + "]");
        }
        Objects.checkFromIndexSize(off, Math.multiplyExact(rows, cols), x.length);
        Objects.checkFromIndexSize(scalesOff, rows, scales.length);
        for (int r = 0; r < rows; r++) {
            float amax = QuantKernels.absMax(x, off + r * cols, cols);
            if (!(amax < Float.POSITIVE_INFINITY)) {
                int c = QuantKernels.firstNonFinite(x, off + r * cols, cols);
                throw new NonFiniteValueException("non-finite value " + x[off + r * cols + c] + " at (row " + r
                        + ", col " + c + "): FP8 fake quantization accepts only finite input");
            }
            scales[scalesOff + r] = amax;
        }
        for (int r = 0; r < rows; r++) {
            int e = scaleExponent(scales[scalesOff + r], format);
            float s = Math.scalb(1f, -e);
            roundScaled(x, off + r * cols, cols, Math.scalb(1f, e), s, format);
            scales[scalesOff + r] = s;
        }
    }

    /** As {@link #fakeQuantizeRows(float[], int, int, int, Fp8Format, float[], int)}, returning new scales. */
    public static float[] fakeQuantizeRows(float[] x, int off, int rows, int cols, Fp8Format format) {
        float[] scales = new float[rows];
        fakeQuantizeRows(x, off, rows, cols, format, scales, 0);
        return scales;
    }

    /** The exponent e of sf = 2^e: the largest with amax·2^e ≤ max (max = 1.75·2^k for both formats). */
    static int scaleExponent(float amax, Fp8Format format) {
        if (amax == 0f) {
            return 0;
        }
        int top = Math.getExponent(format.max()); // 8 or 15; max = 1.75 * 2^top
        int e = ScaleRule.floorLog2(amax);
        float m = Math.scalb(amax, -e);
        return Math.min(m <= 1.75f ? top - e : top - 1 - e, 127);
    }

    /**
     * x[off+i] = fp8(x[off+i]·sf)·s for i &lt; len (vector kernel). fp8 is nearest-even with
     * saturation; NaN gives the canonical NaN.
     */
    public static void roundScaled(float[] x, int off, int len, float sf, float s, Fp8Format format) {
        roundScaled(x, off, x, off, len, sf, s, format);
    }

    /**
     * dst[dstOff+i] = fp8(src[srcOff+i]·sf)·s for i &lt; len: {@link #roundScaled(float[], int, int,
     * float, float, Fp8Format)} from one array into another in one pass (a copy followed by the
     * in-place rounding reads and writes the data twice). {@code dst} may be {@code src} at the same
     * offset; otherwise the two ranges must not overlap.
     *
     * @throws IllegalArgumentException if the ranges overlap at different offsets
     */
    public static void roundScaled(float[] src, int srcOff, float[] dst, int dstOff, int len, float sf, float s,
                                   Fp8Format format) {
        Objects.checkFromIndexSize(srcOff, len, src.length);
        Objects.checkFromIndexSize(dstOff, len, dst.length);
        if (src == dst && srcOff != dstOff && Math.abs((long) srcOff - dstOff) < len) {
            throw new IllegalArgumentException("dst [" + dstOff + ", " + (dstOff + len) + ") overlaps src ["
                    + srcOff + ", " + (srcOff + len) + ") at a different offset");
        }
        if (!Simd.ENABLED) {
            roundScaledScalar(src, srcOff, dst, dstOff, len, sf, s, format);
            return;
        }
        int i = Fp8QuantizerPanama.roundScaledVector(src, srcOff, dst, dstOff, len, sf, s, format);
        if (i < len) {
            roundScaledScalar(src, srcOff + i, dst, dstOff + i, len - i, sf, s, format);
        }
    }

    /** Scalar twin of {@link #roundScaled(float[], int, int, float, float, Fp8Format)}, through the format's reference conversion. */
    static void roundScaledScalar(float[] x, int off, int len, float sf, float s, Fp8Format format) {
        roundScaledScalar(x, off, x, off, len, sf, s, format);
    }

    /** Scalar twin of {@link #roundScaled(float[], int, float[], int, int, float, float, Fp8Format)}. */
    static void roundScaledScalar(float[] src, int srcOff, float[] dst, int dstOff, int len, float sf, float s,
                                         Fp8Format format) {
        Objects.checkFromIndexSize(srcOff, len, src.length);
        Objects.checkFromIndexSize(dstOff, len, dst.length);
        for (int i = 0; i < len; i++) {
            float q = format.round(src[srcOff + i] * sf);
            dst[dstOff + i] = q != q ? Float.NaN : q * s;
        }
    }
}
