package dev.fp4.core.format;

/**
 * FP8 E5M2 as in the OCP 8-bit floating point specification: sign, 5 exponent bits (bias 15),
 * 2 mantissa bits, IEEE-like: ±∞ is S.11111.00, NaN is S.11111.{01,10,11}. Largest finite value
 * 57344 (S.11110.11), smallest normal 2^−14, smallest subnormal 2^−16.
 *
 * <p>Encoding rounds to nearest, ties to even, straight from FP32. {@link #encode(float)} is the
 * IEEE conversion: magnitudes of 61440 (the midpoint of 57344 and 2^16, a tie that goes to the
 * even, overflowing side) and above become ±∞, and ±∞ stays ±∞. {@link #encodeSaturating(float)}
 * gives ±57344 for both instead. NaN encodes to 0x7E; −0 keeps its sign (0x80).
 */
public final class E5M2 {

    /** Largest finite magnitude, 57344. */
    public static final float MAX = 57344f;

    /** Smallest positive normal, 2^−14. */
    public static final float MIN_NORMAL = 0x1p-14f;

    /** Smallest positive subnormal, 2^−16. */
    public static final float MIN_SUBNORMAL = 0x1p-16f;

    /** The NaN code produced by encoding, 0x7E. */
    public static final int NAN = 0x7E;

    /** The code of +∞, 0x7C. */
    public static final int POSITIVE_INFINITY = 0x7C;

    static final MiniFloat FORMAT = new MiniFloat(5, 2, 15, MAX, NAN, POSITIVE_INFINITY,
            MiniFloat.buildTable(5, 2, 15, mag -> mag > 0x7C, mag -> mag == 0x7C));

    private E5M2() {
    }

    /** Encodes with round-to-nearest-even; overflow gives ±∞; ±∞ stays; NaN → 0x7E. */
    public static int encode(float x) {
        return FORMAT.encode(x, false);
    }

    /** Encodes with round-to-nearest-even, saturating overflow and ±∞ to ±57344; NaN → 0x7E. */
    public static int encodeSaturating(float x) {
        return FORMAT.encode(x, true);
    }

    /** The value of a code (0..255). */
    public static float decode(int code) {
        return FORMAT.decode(code);
    }

    /** {@code decode(encodeSaturating(x))}: x rounded to E5M2 with saturation. */
    public static float round(float x) {
        return FORMAT.table[FORMAT.encode(x, true)];
    }

    /** The 256 values indexed by code (a copy). */
    public static float[] values() {
        return FORMAT.table.clone();
    }
}
