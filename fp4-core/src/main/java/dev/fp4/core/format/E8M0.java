package dev.fp4.core.format;

/**
 * E8M0: the unsigned 8-bit power-of-two scale of OCP Microscaling (MX) blocks.
 *
 * <p>Code c in 0..254 is the value 2^(c − 127), from 2^−127 (a subnormal FP32, still exact) to
 * 2^127; code 0xFF is NaN. There is no sign, no zero and no infinity.
 */
public final class E8M0 {

    /** Exponent bias, 127. */
    public static final int BIAS = 127;

    /** The NaN code, 0xFF. */
    public static final int NAN = 0xFF;

    /** Smallest exponent, −127 (code 0). */
    public static final int MIN_EXPONENT = -127;

    /** Largest exponent, 127 (code 254). */
    public static final int MAX_EXPONENT = 127;

    private E8M0() {
    }

    /**
     * The value of a code: 2^(code − 127), or NaN for 0xFF.
     *
     * @throws IllegalArgumentException if the code is outside 0..255
     */
    public static float decode(int code) {
        if ((code & ~0xFF) != 0) {
            throw new IllegalArgumentException("E8M0 code must be in 0..255, got " + code);
        }
        return code == NAN ? Float.NaN : Math.scalb(1f, code - BIAS);
    }

    /**
     * The code of a scale value, which must be NaN or an exact power of two 2^e with
     * −127 ≤ e ≤ 127 (E8M0 holds nothing else).
     *
     * @throws IllegalArgumentException for any other value (zero, negative, infinite, not a power of two)
     */
    public static int encode(float value) {
        if (Float.isNaN(value)) {
            return NAN;
        }
        int e = exponentOf(value);
        if (e == Integer.MIN_VALUE || e < MIN_EXPONENT || e > MAX_EXPONENT) {
            throw new IllegalArgumentException(
                    "E8M0 holds only NaN and powers of two 2^-127..2^127, got " + value);
        }
        return e + BIAS;
    }

    /**
     * The code of 2^e.
     *
     * @throws IllegalArgumentException if e is outside −127..127
     */
    public static int fromExponent(int e) {
        if (e < MIN_EXPONENT || e > MAX_EXPONENT) {
            throw new IllegalArgumentException("E8M0 exponent must be in -127..127, got " + e);
        }
        return e + BIAS;
    }

    /**
     * The exponent e of the value 2^e of a code.
     *
     * @throws IllegalArgumentException for the NaN code or a code outside 0..254
     */
    public static int exponent(int code) {
        if (code < 0 || code >= NAN) {
            throw new IllegalArgumentException("E8M0 code has no exponent (NaN or out of range): " + code);
        }
        return code - BIAS;
    }

    /** e if {@code v} = 2^e exactly (normal or subnormal FP32), else Integer.MIN_VALUE. */
    private static int exponentOf(float v) {
        if (!(v > 0f) || Float.isInfinite(v)) {
            return Integer.MIN_VALUE;
        }
        int bits = Float.floatToRawIntBits(v);
        int field = bits >>> 23;
        int mant = bits & 0x7FFFFF;
        if (field != 0) {
            return mant == 0 ? field - 127 : Integer.MIN_VALUE;
        }
        // Subnormal: a power of two has a single mantissa bit set.
        return Integer.bitCount(mant) == 1 ? -149 + Integer.numberOfTrailingZeros(mant) : Integer.MIN_VALUE;
    }
}
