package dev.fp4.core.format;

/**
 * FP8 E4M3 as in the OCP 8-bit floating point specification ("E4M3FN"): sign, 4 exponent bits
 * (bias 7), 3 mantissa bits; no infinities; NaN is S.1111.111 (0x7F, 0xFF). Largest finite value
 * 448 (S.1111.110), smallest normal 2^−6, smallest subnormal 2^−9.
 *
 * <p>Encoding rounds to nearest, ties to even, straight from FP32. {@link #encode(float)}
 * saturates: magnitudes that round above 448, and ±∞, give ±448. {@link #encodeNonSaturating(float)}
 * gives NaN for them (E4M3 has no ∞), as an OCP conversion without saturation does. A rounded
 * magnitude overflows when |x| &gt; 464 (464, the midpoint of 448 and 480, ties to 448). NaN encodes
 * to 0x7F; −0 keeps its sign (0x80).
 */
public final class E4M3 {

    /** Largest finite magnitude, 448. */
    public static final float MAX = 448f;

    /** Smallest positive normal, 2^−6. */
    public static final float MIN_NORMAL = 0x1p-6f;

    /** Smallest positive subnormal, 2^−9. */
    public static final float MIN_SUBNORMAL = 0x1p-9f;

    /** The NaN code produced by encoding, 0x7F. */
    public static final int NAN = 0x7F;

    static final MiniFloat FORMAT = new MiniFloat(4, 3, 7, MAX, NAN, -1,
            MiniFloat.buildTable(4, 3, 7, mag -> mag == 0x7F, mag -> false));

    private E4M3() {
    }

    /** Encodes with round-to-nearest-even, saturating to ±448 (±∞ too); NaN → 0x7F. */
    public static int encode(float x) {
        return FORMAT.encode(x, true);
    }

    /** Encodes with round-to-nearest-even; overflow and ±∞ give NaN (0x7F or 0xFF by sign). */
    public static int encodeNonSaturating(float x) {
        return FORMAT.encode(x, false);
    }

    /** The value of a code (0..255); codes 0x7F and 0xFF are NaN. */
    public static float decode(int code) {
        return FORMAT.decode(code);
    }

    /** {@code decode(encode(x))}: x rounded to E4M3 with saturation. */
    public static float round(float x) {
        return FORMAT.table[FORMAT.encode(x, true)];
    }

    /** The 256 values indexed by code (a copy). */
    public static float[] values() {
        return FORMAT.table.clone();
    }
}
