package dev.fp4.spark.comm;

import dev.fp4.core.format.E4M3;

/**
 * {@link E4M3#encodeNonSaturating(float)} by table: the code of x depends only on x's top 16 bits
 * and on whether any lower bit is set. Every E4M3 value and every midpoint between two (at most 5
 * significant bits) is exact in those top 16 bits with their last bit clear, so folding "any lower
 * bit set" into that last bit keeps x on the same side of every midpoint: above stays above, an
 * exact midpoint stays exact, and a NaN stays a NaN.
 */
final class E4M3Codes {
    private static final byte[] CODE = new byte[1 << 16];
    private static final float[] VALUE = E4M3.values();

    static {
        for (int h = 0; h < CODE.length; h++) {
            CODE[h] = (byte) E4M3.encodeNonSaturating(Float.intBitsToFloat(h << 16));
        }
    }

    private E4M3Codes() {
    }

    /** The E4M3 code of x, round to nearest even, overflow and ±∞ to NaN. */
    static int encode(float x) {
        int bits = Float.floatToRawIntBits(x);
        return CODE[(bits >>> 16) | ((bits & 0xFFFF) == 0 ? 0 : 1)] & 0xFF;
    }

    /** The value of a code. */
    static float decode(int code) {
        return VALUE[code];
    }
}
