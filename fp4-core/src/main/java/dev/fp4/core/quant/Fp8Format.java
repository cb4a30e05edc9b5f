package dev.fp4.core.quant;

import dev.fp4.core.format.E4M3;
import dev.fp4.core.format.E5M2;

/** The two OCP FP8 formats used by the precision recipes' FP8 GeMMs. */
public enum Fp8Format {
    /** E4M3 (max 448, 3 mantissa bits): forward operands and, in FP8-LM, most backward operands. */
    E4M3(448f, 3, -6),
    /** E5M2 (max 57344, 2 mantissa bits): the wider-range gradient format. */
    E5M2(57344f, 2, -14);

    private final float max;
    private final int mantissaBits;
    private final int minExponent;

    Fp8Format(float max, int mantissaBits, int minExponent) {
        this.max = max;
        this.mantissaBits = mantissaBits;
        this.minExponent = minExponent;
    }

    /** Largest finite magnitude. */
    public float max() {
        return max;
    }

    /** Explicit mantissa bits (3 or 2). */
    public int mantissaBits() {
        return mantissaBits;
    }

    /** Exponent of the smallest normal (−6 or −14). */
    public int minExponent() {
        return minExponent;
    }

    /**
     * x rounded to this format, nearest-even, saturating to ±max (±∞ too); NaN gives NaN. This is
     * the format's reference conversion ({@link dev.fp4.core.format.E4M3#round},
     * {@link dev.fp4.core.format.E5M2#round}).
     */
    public float round(float x) {
        return this == E4M3 ? dev.fp4.core.format.E4M3.round(x) : dev.fp4.core.format.E5M2.round(x);
    }
}
