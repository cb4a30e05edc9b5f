package dev.fp4.nn.recipe;

import dev.fp4.core.format.E4M3;
import dev.fp4.core.format.E5M2;
import dev.fp4.core.quant.Fp8Format;
import dev.fp4.core.quant.Fp8Quantizer;
import dev.fp4.core.quant.QuantKernels;

/**
 * {@link OperandFormat#E4M3} and {@link OperandFormat#E5M2}: FP8 fake quantization with one
 * power-of-two scale per operand (per tensor), the FP8-LM / Transformer Engine scheme.
 *
 * <p>sf = 2^e, the largest power of two with amax·sf ≤ max (448 or 57344), e capped at 127;
 * amax = 0 gives sf = 1. Then x̂ = fp8(x·sf)·2^−e with fp8 the nearest-even, saturating conversion
 * of fp4-core ({@link E4M3#round}, {@link E5M2#round}). Multiplying by a power of two is exact
 * except where x·sf falls below FP32's normal range, far under FP8's smallest subnormal, where it
 * rounds to zero either way; so x̂ is x rounded once to the scaled FP8 grid.
 *
 * <p>Non-finite input is rejected with an {@link IllegalArgumentException} naming (row, col) of
 * the first non-finite element; the destination is then unchanged.
 */
final class Fp8Operand implements OperandFormat {
    static final Fp8Operand E4M3 = new Fp8Operand("e4m3", dev.fp4.core.format.E4M3.MAX, 8, true);
    static final Fp8Operand E5M2 = new Fp8Operand("e5m2", dev.fp4.core.format.E5M2.MAX, 15, false);

    /** Below this many elements a quantization stays on the calling thread. */
    static final int PARALLEL_MIN = 1 << 16;

    private final String name;
    private final float max;
    private final int topExponent; // max = 1.75·2^topExponent
    private final boolean e4m3;

    private Fp8Operand(String name, float max, int topExponent, boolean e4m3) {
        this.name = name;
        this.max = max;
        this.topExponent = topExponent;
        this.e4m3 = e4m3;
    }

    /** The largest finite magnitude of the format. */
    float max() {
        return max;
    }

    /** The exponent e of the scale sf = 2^e for this amax (finite, ≥ 0). */
    int scaleExponent(float amax) {
        if (amax == 0f) {
            return 0;
        }
        int e = floorLog2(amax);
        float m = Math.scalb(amax, -e); // in [1, 2), exact
        return Math.min(m <= 1.75f ? topExponent - e : topExponent - 1 - e, 127);
    }

    private static int floorLog2(float a) {
        return a >= Float.MIN_NORMAL ? Math.getExponent(a) : Math.getExponent(a * 0x1p64f) - 64;
    }

    /** x rounded to the format, nearest-even, saturating. */
    float round(float x) {
        return e4m3 ? dev.fp4.core.format.E4M3.round(x) : dev.fp4.core.format.E5M2.round(x);
    }

    @Override
    public String name() {
        return name;
    }

    /** Elementwise under one scale per operand. */
    @Override
    public boolean isLayoutFree() {
        return true;
    }

    /** fp4-core's kernel format of the same layout (its rounding is the same nearest-even, saturating conversion). */
    private Fp8Format kernelFormat() {
        return e4m3 ? Fp8Format.E4M3 : Fp8Format.E5M2;
    }

    /**
     * The scale exponent from a vectorised amax pass, then one vectorised rounding pass from src into dst
     * ({@link Fp8Quantizer#roundScaled}, held bit for bit to {@link #round} by its twin test). A
     * non-finite element is found (and named) only when the amax says there is one.
     */
    @Override
    public Quantizer newQuantizer() {
        return new Worker(kernelFormat());
    }

    /**
     * The quantizer: per-tensor absmax scaling, then FP8 rounding; large tensors run in chunks over
     * the threads with bodies bound once and the chunks' maxima in a reused buffer, so a call
     * allocates nothing. Not for concurrent use (a layer owns its quantizers).
     */
    private final class Worker implements Quantizer {
        private final Fp8Format format;
        private float[] part = new float[0];
        // The running call, read by the bound chunk bodies.
        private float[] src;
        private int srcOff;
        private float[] dst;
        private int dstOff;
        private int n;
        private int chunks;
        private float up;
        private float down;
        private final java.util.function.IntConsumer absMaxChunk = this::absMaxChunk;
        private final java.util.function.IntConsumer roundChunk = this::roundChunk;

        Worker(Fp8Format format) {
            this.format = format;
        }

        @Override
        public void quantize(float[] src, int srcOff, int rows, int cols, float[] dst, int dstOff, long stream) {
            int n = Math.multiplyExact(rows, cols);
            java.util.Objects.checkFromIndexSize(srcOff, n, src.length);
            java.util.Objects.checkFromIndexSize(dstOff, n, dst.length);
            int chunks = n < PARALLEL_MIN || dev.fp4.core.gemm.Gemm.threads() == 1 ? 1 : 4 * dev.fp4.core.gemm.Gemm.threads();
            this.src = src;
            this.srcOff = srcOff;
            this.dst = dst;
            this.dstOff = dstOff;
            this.n = n;
            this.chunks = chunks;
            float amax;
            if (chunks == 1) {
                amax = QuantKernels.absMax(src, srcOff, n);
            } else {
                // The maximum of the chunks' maxima is the same value (max is exact); NaN or ∞ in any
                // chunk makes it non-finite, as in one pass.
                if (part.length < chunks) {
                    part = new float[chunks];
                }
                dev.fp4.core.gemm.Gemm.parallelFor(chunks, absMaxChunk);
                amax = part[0];
                for (int c = 1; c < chunks; c++) {
                    amax = part[c] != part[c] || amax != amax ? Float.NaN : Math.max(amax, part[c]);
                }
            }
            if (!(amax < Float.POSITIVE_INFINITY)) {
                int i = QuantKernels.firstNonFinite(src, srcOff, n);
                throw new dev.fp4.core.quant.NonFiniteValueException("non-finite value " + src[srcOff + i] + " at (row " + i / cols
                        + ", col " + i % cols + ") of a [" + rows + ", " + cols + "] matrix: " + name
                        + " accepts only finite input");
            }
            int e = scaleExponent(amax);
            up = Math.scalb(1f, e);
            down = Math.scalb(1f, -e);
            // Element-wise, so chunks give the same bits. A destination overlapping the source at
            // another offset is moved first (arraycopy handles the overlap), then rounded in place.
            if (src == dst && srcOff != dstOff && Math.abs((long) srcOff - dstOff) < n) {
                System.arraycopy(src, srcOff, dst, dstOff, n); // overlapping: move first, then in place
                Fp8Quantizer.roundScaled(dst, dstOff, n, up, down, format);
            } else if (chunks == 1) {
                Fp8Quantizer.roundScaled(src, srcOff, dst, dstOff, n, up, down, format); // one pass
            } else {
                dev.fp4.core.gemm.Gemm.parallelFor(chunks, roundChunk);
            }
        }

        private int chunkStart(int c) {
            return dev.fp4.core.gemm.Gemm.splitPoint(n, c, chunks);
        }

        private void absMaxChunk(int c) {
            int from = chunkStart(c);
            part[c] = QuantKernels.absMax(src, srcOff + from, chunkStart(c + 1) - from);
        }

        private void roundChunk(int c) {
            int from = chunkStart(c);
            Fp8Quantizer.roundScaled(src, srcOff + from, dst, dstOff + from, chunkStart(c + 1) - from, up, down, format);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
