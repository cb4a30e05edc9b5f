package dev.fp4.core.quant;

import dev.fp4.core.format.BF16;
import dev.fp4.core.format.E4M3;

/**
 * How a block's scale is chosen from its absolute maximum amax.
 *
 * <p>Every rule gives a decode scale s (stored, {@link Fp4Tensor#scale}) and an encode multiplier m:
 * the code of x is E2M1(fl(x·m)) and its value E2M1·s. For the power-of-two rules m = 1/s exactly.
 * A block with amax = 0 gets s = m = 1 (all its codes are ±0). Non-finite amax: the MX rules give
 * the NaN scale (E8M0 0xFF, the block decodes to NaN); every other rule rejects it (the quantizer
 * names the first non-finite element).
 *
 * <p>Let amax = M·2^E with 1 ≤ M &lt; 2 (E = ⌊log2 amax⌋, exact from the FP32 bits; subnormals too).
 * <ul>
 *   <li>{@link #POWER_OF_TWO} (default of the vector-wise schemes; Wang et al.'s official code):
 *       m = sf = 2^⌊log2(6/amax)⌋, the largest power of two with amax·sf ≤ 6, computed exactly:
 *       sf = 2^(2−E) if M ≤ 1.5 else 2^(1−E); the exponent of sf is capped at 127.</li>
 *   <li>{@link #EXACT}: m = fl(6/amax), s = fl(amax/6): the paper's text; amax maps to 6 up to one
 *       rounding (anything above 6 saturates). For amax &lt; 6/Float.MAX_VALUE (≈ 1.76e−38) 6/amax
 *       overflows: m is capped at Float.MAX_VALUE and s = 2^−128 = fl(1/m), so that q·s still
 *       approximates x (m·s = 1 − 2^−24).</li>
 *   <li>{@link #OFFICIAL_BF16}: the release's BF16-step arithmetic: r = bf16(1/amax),
 *       y = bf16(6·r), l = bf16(log2 y), m = 2^⌊l⌋ (exponent clamped to −126..127). For about 1% of
 *       BF16 amax values this is twice {@link #POWER_OF_TWO} (then amax·m ∈ [6.03, 6.09] and the
 *       top values saturate), exactly as in the release.</li>
 *   <li>{@link #MX_FLOOR} (OCP MX v1.0, the spec rule, default of {@link Fp4Scheme#mxfp4()}):
 *       s = 2^(E−2), so amax·m ∈ [4, 8) and block maxima above 6·s clip to 6.</li>
 *   <li>{@link #MX_CEIL}: s = 2^(⌈log2 amax⌉ − 2), so amax·m ∈ (2, 4].</li>
 *   <li>{@link #MX_RCEIL} (NVIDIA): s = amax/6 rounded up to a power of two, computed exactly:
 *       2^(E−2) if M ≤ 1.5 else 2^(E−1). On finite amax it equals {@link #POWER_OF_TWO}; it
 *       differs in giving NaN for non-finite blocks.</li>
 * </ul>
 * The MX exponents are clamped to E8M0's range −127..127.
 * <ul>
 *   <li>{@link #NVFP4}: two levels, in Transformer Engine's arithmetic order
 *       ({@code reference_nvfp4.py}). S_enc = fl(2688/amax_tensor) (448·6; 1 if amax_tensor = 0;
 *       capped at Float.MAX_VALUE); tensor scale t = fl(1/S_enc);
 *       s_b = E4M3_RNE(min(fl(amax_b·fl(S_enc·fl(1/6))), 448)) (0 if amax_b = 0);
 *       m = fl(1/fl(s_b·t)) (0 if s_b = 0, capped at Float.MAX_VALUE); x̂ = (E2M1·s_b)·t.</li>
 * </ul>
 */
public enum ScaleRule {
    /** 2^⌊log2(6/amax)⌋, exact (default for per-tensor, per-row and per-column schemes). */
    POWER_OF_TWO,
    /** 6/amax. */
    EXACT,
    /** The official release's BF16-step power of two. */
    OFFICIAL_BF16,
    /** OCP MX: 2^(⌊log2 amax⌋ − 2) (default for MXFP4). */
    MX_FLOOR,
    /** 2^(⌈log2 amax⌉ − 2). */
    MX_CEIL,
    /** amax/6 rounded up to a power of two. */
    MX_RCEIL,
    /** NVFP4: E4M3 block scale under an FP32 tensor scale. */
    NVFP4,
    /**
     * Four Over Six (arXiv 2512.02010; Transformer Engine's {@code nvfp4_4over6}): NVFP4 whose
     * tensor scale maps the tensor amax to 6·256 (TE's E4M3 bound for it, so that the ×1.5 scale
     * stays below 448), and each block takes the map-to-4 scale E4M3(1.5·d) instead of the
     * map-to-6 scale E4M3(d) when its squared error over the block is smaller (ties: map-to-6), in
     * TE's reference arithmetic (see {@link Fp4Tensor}).
     */
    NVFP4_4OVER6;

    /** fl(1/Float.MAX_VALUE) = 2^−128: the EXACT rule's decode scale where its multiplier is capped. */
    private static final float EXACT_CAPPED_SCALE = 0x1p-128f;

    /** {@code true} for the rules whose non-finite blocks get the NaN scale instead of an error. */
    public boolean nanForNonFinite() {
        return this == MX_FLOOR || this == MX_CEIL || this == MX_RCEIL;
    }

    /** {@code true} for {@link #NVFP4} and {@link #NVFP4_4OVER6}, the rules with a tensor scale. */
    public boolean isTwoLevel() {
        return this == NVFP4 || this == NVFP4_4OVER6;
    }

    /** The E4M3 bound of Four Over Six's tensor scale: S_enc = 6·256/amax_tensor. */
    public static final float FOUR_OVER_SIX_E4M3_MAX = 256f;

    /**
     * The decode scale s of a block with this amax (single-level rules).
     *
     * @throws IllegalArgumentException if amax is negative, or non-finite for a rule that rejects it
     * @throws IllegalStateException for {@link #NVFP4}, whose scale needs the tensor scale
     *         ({@link #nvfp4BlockScale})
     */
    public float scale(float amax) {
        check(amax);
        if (!(amax < Float.POSITIVE_INFINITY)) {
            return Float.NaN;
        }
        if (amax == 0f) {
            return 1f;
        }
        if (this == EXACT) {
            // Where 6/amax overflows the multiplier is capped at Float.MAX_VALUE; the decode scale
            // must then be its reciprocal (2^-128, exact), not amax/6, or x̂ = q·s would no longer
            // approximate x (amax/6 would undo a multiplier that was not applied).
            return 6f / amax > Float.MAX_VALUE ? EXACT_CAPPED_SCALE : amax / 6f;
        }
        return pow2(-exponentOfMultiplier(amax));
    }

    /**
     * The encode multiplier m of a block with this amax (single-level rules); 1/scale for the
     * power-of-two rules, fl(6/amax) for {@link #EXACT}, 0 for a NaN (MX) block.
     */
    public float multiplier(float amax) {
        check(amax);
        if (!(amax < Float.POSITIVE_INFINITY)) {
            return 0f;
        }
        if (amax == 0f) {
            return 1f;
        }
        if (this == EXACT) {
            return Math.min(6f / amax, Float.MAX_VALUE);
        }
        return pow2(exponentOfMultiplier(amax));
    }

    private void check(float amax) {
        if (isTwoLevel()) {
            throw new IllegalStateException(this + " is a two-level rule: use nvfp4EncodeScale/nvfp4BlockScale");
        }
        if (amax < 0f) {
            throw new IllegalArgumentException("amax must be >= 0, got " + amax);
        }
        if (!(amax < Float.POSITIVE_INFINITY) && !nanForNonFinite()) {
            throw new NonFiniteValueException(this + " scale needs a finite amax, got " + amax);
        }
    }

    /** The exponent k of the multiplier 2^k of a power-of-two rule, amax finite and &gt; 0. */
    private int exponentOfMultiplier(float amax) {
        int e = floorLog2(amax);
        boolean upperHalf = significandAbove1p5(amax);
        return switch (this) {
            case POWER_OF_TWO -> Math.min(upperHalf ? 1 - e : 2 - e, 127);
            case MX_RCEIL -> -clampE8m0(upperHalf ? e - 1 : e - 2);
            case MX_FLOOR -> -clampE8m0(e - 2);
            case MX_CEIL -> -clampE8m0(isPowerOfTwo(amax) ? e - 2 : e - 1);
            case OFFICIAL_BF16 -> officialExponent(amax);
            default -> throw new AssertionError(this);
        };
    }

    private static int clampE8m0(int e) {
        return Math.max(-127, Math.min(127, e));
    }

    /** ⌊log2 a⌋ for finite a &gt; 0, exact, subnormals included. */
    static int floorLog2(float a) {
        int bits = Float.floatToRawIntBits(a);
        int field = bits >>> 23;
        if (field != 0) {
            return field - 127;
        }
        return (31 - Integer.numberOfLeadingZeros(bits)) - 149;
    }

    /** The 23 fraction bits of a's significand M (a = M·2^E, 1 ≤ M &lt; 2), subnormals normalised. */
    private static int fractionBits(float a) {
        int bits = Float.floatToRawIntBits(a);
        int mant = bits & 0x7FFFFF;
        if ((bits >>> 23) != 0) {
            return mant;
        }
        return (mant << (Integer.numberOfLeadingZeros(mant) - 8)) & 0x7FFFFF;
    }

    /** {@code true} when a = M·2^E with M &gt; 1.5. */
    private static boolean significandAbove1p5(float a) {
        return fractionBits(a) > 0x400000;
    }

    private static boolean isPowerOfTwo(float a) {
        return fractionBits(a) == 0;
    }

    /** {@code true} for the rules whose multiplier and scale are reciprocal powers of two. */
    boolean isPowerOfTwoRule() {
        return this != EXACT && this != NVFP4;
    }

    /**
     * For a power-of-two rule and finite amax &gt; 0: k with m = 2^k and s = 2^−k
     * (−127 ≤ k ≤ 127).
     */
    int multiplierExponent(float amax) {
        return exponentOfMultiplier(amax);
    }

    /** 2^k for −127 ≤ k ≤ 127, from the bits. */
    static float pow2(int k) {
        return k >= -126 ? Float.intBitsToFloat((k + 127) << 23) : Math.scalb(1f, k);
    }

    /** The release's sf exponent ⌊bf16(log2(bf16(6·bf16(1/amax))))⌋, clamped to −126..127. */
    private static int officialExponent(float amax) {
        float r = BF16.round(1f / amax);
        float y = BF16.round(6f * r);
        if (y == Float.POSITIVE_INFINITY) {
            return 127;
        }
        if (y == 0f) {
            return -126;
        }
        float l = BF16.round((float) log2(y));
        return (int) Math.max(-126, Math.min(127, Math.floor(l)));
    }

    private static double log2(float y) {
        int e = floorLog2(y);
        if (Math.scalb(y, -e) == 1f) {
            return e;
        }
        return StrictMath.log(y) / StrictMath.log(2.0);
    }

    /**
     * NVFP4 S_enc = min(fl(448·6/amax_tensor), Float.MAX_VALUE), as Transformer Engine computes it:
     * an all-zero tensor gets Float.MAX_VALUE (2688/0 = ∞, capped) and so the tensor scale
     * fl(1/Float.MAX_VALUE); every block of it has scale 0 and decodes to 0.
     */
    public static float nvfp4EncodeScale(float amaxTensor) {
        if (!(amaxTensor >= 0f) || amaxTensor == Float.POSITIVE_INFINITY) {
            throw amaxTensor < 0f ? new IllegalArgumentException("NVFP4 needs a finite tensor amax >= 0, got " + amaxTensor)
                    : new NonFiniteValueException("NVFP4 needs a finite tensor amax >= 0, got " + amaxTensor);
        }
        return Math.min(2688f / amaxTensor, Float.MAX_VALUE);
    }

    /** fl(1/6), the reciprocal Transformer Engine folds into the encode scale. */
    private static final float ONE_SIXTH = 1f / 6f;

    /**
     * NVFP4 block scale in Transformer Engine's arithmetic order:
     * s_b = E4M3_RNE(min(fl(amax_b · fl(S_enc · fl(1/6))), 448)); 0 when amax_b = 0 (as TE stores it).
     */
    public static float nvfp4BlockScale(float amaxBlock, float sEnc) {
        if (!(amaxBlock >= 0f) || amaxBlock == Float.POSITIVE_INFINITY) {
            throw amaxBlock < 0f ? new IllegalArgumentException("NVFP4 needs a finite block amax >= 0, got " + amaxBlock)
                    : new NonFiniteValueException("NVFP4 needs a finite block amax >= 0, got " + amaxBlock);
        }
        float multiplier = sEnc * ONE_SIXTH;
        return E4M3.round(Math.min(Math.min(amaxBlock * multiplier, Float.MAX_VALUE), E4M3.MAX));
    }

    /**
     * NVFP4 encode multiplier in TE's order: fl(1/fl(s_b · fl(1/S_enc))), capped at Float.MAX_VALUE.
     * A block whose scale is 0 (all zero, or its amax underflowed E4M3) gets Float.MAX_VALUE, as in
     * TE: its non-zero elements' codes saturate to ±6, and the block decodes to 0 all the same.
     */
    public static float nvfp4Multiplier(float blockScale, float sEnc) {
        return Math.min(1f / (blockScale * nvfp4TensorScale(sEnc)), Float.MAX_VALUE);
    }

    /** NVFP4 tensor scale (TE's global decode scale) fl(1/S_enc). */
    public static float nvfp4TensorScale(float sEnc) {
        return 1f / sEnc;
    }
}
