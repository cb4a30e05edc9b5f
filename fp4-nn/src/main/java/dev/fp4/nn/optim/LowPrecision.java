package dev.fp4.nn.optim;

/**
 * The number-format conversions the optimizer's moment storage needs, in one place so that they
 * can be switched to fp4-core's {@code dev.fp4.core.format} classes without touching the
 * optimizer. All conversions round to nearest, ties to even, straight from FP32.
 */
final class LowPrecision {
    private LowPrecision() {
    }

    /** Largest finite E4M3 (OCP "fn" variant) value: S.1111.110 = 448. */
    static final float E4M3_MAX = 448f;
    /** Largest finite FP16 value. */
    static final float FP16_MAX = 65504f;

    /** FP32 → BF16 bits, RNE; NaN stays a (quiet) NaN, overflow rounds to infinity as IEEE does. */
    static short toBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounded = bits + 0x7fff + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** BF16 bits → FP32 (exact). */
    static float fromBf16(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    /** FP32 → FP16 bits, RNE (the JDK's conversion). */
    static short toFp16(float x) {
        return Float.floatToFloat16(x);
    }

    /** FP16 bits → FP32 (exact). */
    static float fromFp16(short h) {
        return Float.float16ToFloat(h);
    }

    /**
     * FP32 → E4M3 code (bias 7, subnormals m·2^-9, max 448, no infinities), RNE, saturating to
     * ±448. The input must be finite (callers scale finite moments).
     */
    static byte toE4m3(float x) {
        int sign = Float.floatToRawIntBits(x) >>> 31 << 7;
        float a = Math.min(Math.abs(x), E4M3_MAX);
        int code;
        if (a < 0x1p-6f) {
            // subnormal grid 2^-9; rint is RNE and a*2^9 is exact (power-of-two scaling).
            code = (int) Math.rint(a * 0x1p9f);
        } else {
            int e = Math.getExponent(a);
            float frac = a * Math.scalb(1f, -e) - 1f;          // exact: in [0, 1)
            int m = (int) Math.rint(frac * 8f);                  // frac*8 exact; RNE
            if (m == 8) {
                m = 0;
                e++;
            }
            code = ((e + 7) << 3) | m;                           // e <= 8 since a <= 448
        }
        return (byte) (sign | code);
    }

    /** E4M3 code → FP32 (exact); 0x7F/0xFF are NaN. */
    static float fromE4m3(byte c) {
        int b = c & 0xff;
        int exp = (b >>> 3) & 0xf;
        int man = b & 7;
        float v;
        if (exp == 15 && man == 7) {
            v = Float.NaN;
        } else if (exp == 0) {
            v = man * 0x1p-9f;
        } else {
            v = Math.scalb(1f + man / 8f, exp - 7);
        }
        return (b & 0x80) != 0 ? -v : v;
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
