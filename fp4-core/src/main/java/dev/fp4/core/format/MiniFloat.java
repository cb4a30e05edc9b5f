package dev.fp4.core.format;

/**
 * The arithmetic shared by the 8-bit float formats: round-to-nearest-even from FP32 to a format with
 * {@code manBits} mantissa bits, minimum normal exponent {@code 1 − bias} and gradual underflow,
 * then the code of the rounded value. Package-private; {@link E4M3} and {@link E5M2} are the API.
 */
final class MiniFloat {

    final int manBits;
    final int bias;
    final int emin;
    final float max;
    final int maxCode;
    /** Code given to NaN (sign bit clear). */
    final int nanCode;
    /** Code of +∞, or −1 when the format has none. */
    final int infCode;
    final float[] table;

    MiniFloat(int expBits, int manBits, int bias, float max, int nanCode, int infCode, float[] table) {
        this.manBits = manBits;
        this.bias = bias;
        this.emin = 1 - bias;
        this.max = max;
        this.nanCode = nanCode;
        this.infCode = infCode;
        this.table = table;
        this.maxCode = codeOf(max);
        if (expBits + manBits != 7) {
            throw new AssertionError("8-bit formats only");
        }
    }

    /**
     * |x| rounded to nearest, ties to even, on the format's grid without an upper limit (the
     * result may exceed {@link #max}; then it has overflowed). Exact: the scaled value
     * |x|·2^(manBits − e) is an exact double and {@code Math.rint} rounds it half-even.
     */
    double roundMagnitude(float x) {
        double a = Math.abs((double) x);
        if (a == 0.0) {
            return 0.0;
        }
        int e = Math.max(Math.getExponent(x), emin);
        int q = e - manBits;
        return Math.scalb(Math.rint(Math.scalb(a, -q)), q);
    }

    /** The code of a finite magnitude on the grid (|v| ≤ the largest binade's top), sign from {@code negative}. */
    int codeOf(double v) {
        if (v == 0.0) {
            return 0;
        }
        int e = Math.getExponent(v);
        int field;
        int mant;
        if (e < emin) {
            field = 0;
            mant = (int) Math.scalb(v, manBits - emin);
        } else {
            field = e + bias;
            mant = (int) Math.scalb(v - Math.scalb(1.0, e), manBits - e);
        }
        return field << manBits | mant;
    }

    int encode(float x, boolean saturate) {
        int sign = (Float.floatToRawIntBits(x) >>> 24) & 0x80;
        if (Float.isNaN(x)) {
            return nanCode;
        }
        if (Float.isInfinite(x)) {
            return sign | (saturate ? maxCode : (infCode >= 0 ? infCode : nanCode));
        }
        double r = roundMagnitude(x);
        if (r > max) {
            return sign | (saturate ? maxCode : (infCode >= 0 ? infCode : nanCode));
        }
        return sign | codeOf(r);
    }

    float decode(int code) {
        if ((code & ~0xFF) != 0) {
            throw new IllegalArgumentException("8-bit code must be in 0..255, got " + code);
        }
        return table[code];
    }

    /** The 256 values of a format with the given layout; NaN and ∞ codes as the predicates say. */
    static float[] buildTable(int expBits, int manBits, int bias, java.util.function.IntPredicate isNaN,
            java.util.function.IntPredicate isInf) {
        float[] t = new float[256];
        for (int c = 0; c < 256; c++) {
            int mag = c & 0x7F;
            int field = mag >>> manBits;
            int mant = mag & ((1 << manBits) - 1);
            double v;
            if (isNaN.test(mag)) {
                v = Double.NaN;
            } else if (isInf.test(mag)) {
                v = Double.POSITIVE_INFINITY;
            } else if (field == 0) {
                v = Math.scalb((double) mant, 1 - bias - manBits);
            } else {
                v = Math.scalb(1.0 + Math.scalb((double) mant, -manBits), field - bias);
            }
            float f = (float) v;
            t[c] = (c & 0x80) != 0 ? -f : f;
        }
        return t;
    }
}
