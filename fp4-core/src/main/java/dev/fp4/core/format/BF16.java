package dev.fp4.core.format;

import dev.fp4.core.simd.Simd;
import java.util.Objects;

/**
 * bfloat16: the upper 16 bits of an FP32 (sign, 8 exponent bits, 7 mantissa bits).
 *
 * <p>Encoding rounds to nearest, ties to even, on the FP32 bits: {@code (bits + 0x7FFF +
 * ((bits >>> 16) & 1)) >>> 16}. Overflow rounds to ±∞ (IEEE); ±∞ and ±0 are kept; subnormals
 * round like any other value. A NaN stays a NaN: its quiet bit (bit 22 of the FP32) is set before
 * truncation, so no NaN can round to ∞, and its sign and upper payload bits are kept.
 */
public final class BF16 {


    private BF16() {
    }

    /** The 16-bit pattern (in the low 16 bits of the result) of x rounded to BF16. */
    public static int encode(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return ((bits | 0x00400000) >>> 16);
        }
        return (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
    }

    /** The value of a 16-bit BF16 pattern (bits above 15 must be zero). */
    public static float decode(int bits) {
        if ((bits & ~0xFFFF) != 0) {
            throw new IllegalArgumentException("BF16 bits must be in 0..0xFFFF, got 0x" + Integer.toHexString(bits));
        }
        return Float.intBitsToFloat(bits << 16);
    }

    /** x rounded to the nearest BF16 value (ties to even), as an FP32. */
    public static float round(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return Float.intBitsToFloat((bits | 0x00400000) & 0xFFFF0000);
        }
        return Float.intBitsToFloat((bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000);
    }

    /** Rounds {@code x[off, off+len)} to BF16 in place (vector kernel; equals {@link #roundInPlaceScalar}). */
    public static void roundInPlace(float[] x, int off, int len) {
        Objects.checkFromIndexSize(off, len, x.length);
        if (!Simd.ENABLED) {
            roundInPlaceScalar(x, off, len);
            return;
        }
        BF16Panama.roundInPlaceVector(x, off, len);
    }

    /** Scalar twin of {@link #roundInPlace}. */
    static void roundInPlaceScalar(float[] x, int off, int len) {
        Objects.checkFromIndexSize(off, len, x.length);
        for (int i = 0; i < len; i++) {
            x[off + i] = round(x[off + i]);
        }
    }
}
