package dev.fp4.nn.optim;

/**
 * How AdamW stores its two moments between steps. The update itself is always computed in FP32
 * from the decoded moments; only the stored state is rounded.
 *
 * <p>Scaled formats keep one power-of-two scale s per parameter tensor, chosen after each update
 * so that the largest |moment|·s fits the format (E4M3: 448, FP16: 65504); the stored value is
 * round(moment·s) and the decoded value round(moment·s)/s, both scalings exact.
 */
public enum MomentPrecision {
    /** Both moments in FP32 (exact state). */
    FP32(Format.FP32, Format.FP32),
    /** Both moments in BF16 (RNE; relative error at most 2^-8 per element). */
    BF16(Format.BF16, Format.BF16),
    /**
     * FP8-LM (the Wang et al. paper's setting): first moment in E4M3 with a per-tensor scale,
     * second moment in FP16 with a per-tensor scale.
     */
    FP8_FP16(Format.E4M3_SCALED, Format.FP16_SCALED),
    /** First moment in E4M3 with a per-tensor scale, second moment in BF16. */
    FP8_BF16(Format.E4M3_SCALED, Format.BF16);

    /** Storage of one moment. */
    public enum Format {
        /** FP32. */
        FP32,
        /** BF16, no scale (BF16 has FP32's exponent range). */
        BF16,
        /** FP16 values of moment·s with a per-tensor power-of-two scale s. */
        FP16_SCALED,
        /** E4M3 codes of moment·s with a per-tensor power-of-two scale s. */
        E4M3_SCALED
    }

    private final Format first;
    private final Format second;

    MomentPrecision(Format first, Format second) {
        this.first = first;
        this.second = second;
    }

    /** Storage of the first moment m. */
    public Format first() {
        return first;
    }

    /** Storage of the second moment v. */
    public Format second() {
        return second;
    }

    /** The precision named {@code name} (case-insensitive, '-' accepted for '_'), listing the valid names otherwise. */
    public static MomentPrecision parse(String name) {
        String n = name.trim().toUpperCase(java.util.Locale.ROOT).replace('-', '_');
        for (MomentPrecision p : values()) {
            if (p.name().equals(n)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown moment precision \"" + name + "\"; valid: "
                + java.util.Arrays.toString(values()));
    }
}
