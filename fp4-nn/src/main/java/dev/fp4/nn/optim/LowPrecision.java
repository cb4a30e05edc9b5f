package dev.fp4.nn.optim;

import dev.fp4.core.format.BF16;
import dev.fp4.core.format.E4M3;

/**
 * The number-format conversions the optimizer's moment storage needs, in one place: fp4-core's
 * {@link E4M3} and {@link BF16}, and the JDK's FP16 conversion. All round to nearest, ties to even,
 * straight from FP32.
 */
final class LowPrecision {
    private LowPrecision() {
    }

    /** Largest finite E4M3 (OCP "fn" variant) value: S.1111.110 = 448. */
    static final float E4M3_MAX = E4M3.MAX;
    /** Largest finite FP16 value. */
    static final float FP16_MAX = 65504f;

    /** FP32 → BF16 bits, RNE; NaN stays a (quiet) NaN. */
    static short toBf16(float x) {
        return (short) BF16.encode(x);
    }

    /** BF16 bits → FP32 (exact). */
    static float fromBf16(short b) {
        return BF16.decode(b & 0xffff);
    }

    /** FP32 → FP16 bits, RNE (the JDK's conversion). */
    static short toFp16(float x) {
        return Float.floatToFloat16(x);
    }

    /** FP16 bits → FP32 (exact). */
    static float fromFp16(short h) {
        return Float.float16ToFloat(h);
    }

    /** FP32 → E4M3 code, RNE, saturating to ±448. The input must be finite (callers scale finite moments). */
    static byte toE4m3(float x) {
        return (byte) E4M3.encode(x);
    }

    /** E4M3 code → FP32 (exact); 0x7F/0xFF are NaN. */
    static float fromE4m3(byte c) {
        return E4M3.decode(c & 0xff);
    }

    /**
     * The power-of-two scale s = 2^⌊log2(max / amax)⌋ that maps amax to at most {@code max}
     * exactly; 1 when amax is 0 or not finite.
     */
    static float powerOfTwoScale(float amax, float max) {
        if (!(amax > 0f) || !Float.isFinite(amax)) {
            return 1f;
        }
        int e = Math.getExponent(max / amax);          // floor(log2) of a normal float
        float s = Math.scalb(1f, Math.max(-126, Math.min(127, e)));
        // max/amax is rounded; correct so that amax*s <= max holds exactly.
        while (amax * s > max) {
            s *= 0.5f;
        }
        return s;
    }
}
