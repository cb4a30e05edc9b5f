package dev.fp4.core.format;

/**
 * FP4 E2M1: the 4-bit element format of OCP Microscaling (MXFP4) and NVFP4.
 *
 * <p>A code is 4 bits {@code S EE M}: sign, a 2-bit exponent with bias 1 and a 1-bit mantissa.
 * E = 0 is subnormal (value ±0.5·M); otherwise the value is ±2^(E−1)·(1 + M/2). There is no
 * infinity and no NaN. Codes 0x0..0x7 are +0, 0.5, 1, 1.5, 2, 3, 4, 6; codes 0x8..0xF are their
 * negatives (0x8 is −0).
 *
 * <p>Encoding rounds straight from FP32 (one rounding, no intermediate format) and saturates to ±6.
 * The rounding is decided by comparing |x| with the seven midpoints 0.25, 0.75, 1.25, 1.75, 2.5,
 * 3.5 and 5 (all exact in FP32):
 * <ul>
 *   <li>{@link #encode(float)}: round to nearest, ties to even (the hardware rule): 0.25→0,
 *       0.75→1, 1.25→1, 1.75→2, 2.5→2, 3.5→4, 5→4, |x| &gt; 6 → 6 (and the negatives).</li>
 *   <li>{@link #encodeHalfUp(float)}: ties toward +∞, the rule of the official simulation kernel
 *       of Wang et al. (2025): 0.25→0.5, 2.5→3, 5→6, −0.25→+0, −5→−4; anything rounding to zero
 *       (including −0) becomes +0, as in that kernel.</li>
 *   <li>{@link #encodeStochastic(float, float)}: stochastic rounding between the two neighbours.</li>
 * </ul>
 * The sign of zero is kept by the RNE and stochastic encoders (−0 and negatives rounding to zero
 * give code 0x8). ±∞ saturates to ±6. NaN has no E2M1 code: the encoders throw
 * {@link IllegalArgumentException}; the quantizers in {@code dev.fp4.core.quant} handle
 * non-finite input before encoding (reject, or a NaN block scale for MX).
 *
 * <p>Packing: two codes per byte, element 0 in the LOW nibble, element 1 in the high nibble (as
 * PyTorch {@code float4_e2m1fn_x2}, OCP, ONNX and Triton). A packed sequence of n codes occupies
 * ⌈n/2⌉ bytes; for odd n the last high nibble is 0.
 */
public final class E2M1 {

    /** Largest finite magnitude, 6. */
    public static final float MAX = 6f;

    /** Number of codes, 16. */
    public static final int CODES = 16;

    /** Code of +0. */
    public static final int POSITIVE_ZERO = 0x0;

    /** Code of −0. */
    public static final int NEGATIVE_ZERO = 0x8;

    private static final float[] VALUES = {
        0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f,
        -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f,
    };

    /** The seven midpoints between consecutive magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6. */
    private static final float[] MIDPOINTS = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5f};

    private E2M1() {
    }

    /**
     * The value of a code.
     *
     * @param code 0..15
     * @return the E2M1 value (exact in FP32)
     * @throws IllegalArgumentException if the code is outside 0..15
     */
    public static float decode(int code) {
        if ((code & ~0xF) != 0) {
            throw new IllegalArgumentException("E2M1 code must be in 0..15, got " + code);
        }
        return VALUES[code];
    }

    /** The 16 values indexed by code (a copy). */
    public static float[] values() {
        return VALUES.clone();
    }

    /** The 7 rounding midpoints between the non-negative values, ascending (a copy). */
    public static float[] midpoints() {
        return MIDPOINTS.clone();
    }

    /**
     * Encodes with round-to-nearest-even, saturating to ±6; −0 keeps its sign.
     *
     * @throws IllegalArgumentException if {@code x} is NaN (E2M1 has no NaN)
     */
    public static int encode(float x) {
        requireNotNaN(x);
        int sign = (Float.floatToRawIntBits(x) >>> 28) & 8;
        float a = Math.abs(x);
        // Ties to even: codes 0, 2, 4, 6 are even, so ties at 0.25, 1.25, 2.5, 5 stay below (>)
        // and ties at 0.75, 1.75, 3.5 go above (>=).
        int m = (a > 0.25f ? 1 : 0) + (a >= 0.75f ? 1 : 0) + (a > 1.25f ? 1 : 0) + (a >= 1.75f ? 1 : 0)
                + (a > 2.5f ? 1 : 0) + (a >= 3.5f ? 1 : 0) + (a > 5f ? 1 : 0);
        return sign | m;
    }

    /**
     * Encodes with round-to-nearest, ties toward +∞, saturating to ±6; a result of zero is always
     * +0 (code 0). Reproduces the official simulation kernel of Wang et al. (2025) bit for bit.
     *
     * @throws IllegalArgumentException if {@code x} is NaN
     */
    public static int encodeHalfUp(float x) {
        requireNotNaN(x);
        if (x >= 0f) {
            return (x >= 0.25f ? 1 : 0) + (x >= 0.75f ? 1 : 0) + (x >= 1.25f ? 1 : 0) + (x >= 1.75f ? 1 : 0)
                    + (x >= 2.5f ? 1 : 0) + (x >= 3.5f ? 1 : 0) + (x >= 5f ? 1 : 0);
        }
        float a = -x;
        // Toward +inf for a negative number means toward the smaller magnitude at a tie.
        int m = (a > 0.25f ? 1 : 0) + (a > 0.75f ? 1 : 0) + (a > 1.25f ? 1 : 0) + (a > 1.75f ? 1 : 0)
                + (a > 2.5f ? 1 : 0) + (a > 3.5f ? 1 : 0) + (a > 5f ? 1 : 0);
        return m == 0 ? 0 : 8 | m;
    }

    /**
     * Encodes with stochastic rounding: |x| between neighbours lo ≤ |x| &lt; hi rounds up to hi
     * with probability p = (|x| − lo)/(hi − lo), that is when {@code u < p}; |x| ≥ 6 saturates to
     * 6. With u uniform on [0, 1) the expected value of the result is x for |x| ≤ 6 (p is
     * computed exactly). The sign of x is kept, also for results of zero.
     *
     * @param x the value
     * @param u a uniform variate in [0, 1)
     * @throws IllegalArgumentException if {@code x} is NaN
     */
    public static int encodeStochastic(float x, float u) {
        requireNotNaN(x);
        int sign = (Float.floatToRawIntBits(x) >>> 28) & 8;
        float a = Math.abs(x);
        int m = 0;
        float lo = 0f;
        float invStep = 2f;
        if (a >= 0.5f) { m = 1; lo = 0.5f; }
        if (a >= 1f) { m = 2; lo = 1f; }
        if (a >= 1.5f) { m = 3; lo = 1.5f; }
        if (a >= 2f) { m = 4; lo = 2f; invStep = 1f; }
        if (a >= 3f) { m = 5; lo = 3f; }
        if (a >= 4f) { m = 6; lo = 4f; invStep = 0.5f; }
        if (a >= 6f) { m = 7; lo = 6f; invStep = 0f; }
        // (a - lo) is exact (Sterbenz, or lo = 0) and invStep is a power of two: p is exact.
        float p = (a - lo) * invStep;
        if (u < p) {
            m++;
        }
        return sign | m;
    }

    /** Packs two codes into one byte: {@code lo} in bits 0..3 (element 0), {@code hi} in bits 4..7. */
    public static byte pack(int lo, int hi) {
        if (((lo | hi) & ~0xF) != 0) {
            throw new IllegalArgumentException("E2M1 codes must be in 0..15, got " + lo + ", " + hi);
        }
        return (byte) (lo | hi << 4);
    }

    /** The code of element 0 (low nibble) of a packed byte. */
    public static int unpackLow(byte b) {
        return b & 0xF;
    }

    /** The code of element 1 (high nibble) of a packed byte. */
    public static int unpackHigh(byte b) {
        return (b >>> 4) & 0xF;
    }

    /**
     * Packs {@code n} codes two per byte into {@code dst[dstOff ..]} (⌈n/2⌉ bytes written; the
     * high nibble of the last byte is 0 when n is odd).
     */
    public static void pack(int[] codes, int off, int n, byte[] dst, int dstOff) {
        java.util.Objects.checkFromIndexSize(off, n, codes.length);
        java.util.Objects.checkFromIndexSize(dstOff, (n + 1) / 2, dst.length);
        for (int i = 0; i < n; i += 2) {
            int lo = codes[off + i];
            int hi = i + 1 < n ? codes[off + i + 1] : 0;
            dst[dstOff + i / 2] = pack(lo, hi);
        }
    }

    /** Packs codes into a new array of ⌈codes.length/2⌉ bytes. */
    public static byte[] pack(int... codes) {
        byte[] out = new byte[(codes.length + 1) / 2];
        pack(codes, 0, codes.length, out, 0);
        return out;
    }

    /** Unpacks {@code n} codes from {@code src}, starting at the low nibble of {@code src[srcOff]}. */
    public static void unpack(byte[] src, int srcOff, int n, int[] codes, int off) {
        java.util.Objects.checkFromIndexSize(srcOff, (n + 1) / 2, src.length);
        java.util.Objects.checkFromIndexSize(off, n, codes.length);
        for (int i = 0; i < n; i++) {
            codes[off + i] = codeAt(src, srcOff * 2L + i);
        }
    }

    /** The code at nibble index {@code index} of a packed array (index 2k is the low nibble of byte k). */
    public static int codeAt(byte[] packed, long index) {
        int b = packed[Math.toIntExact(index >>> 1)];
        return (b >>> ((int) (index & 1) << 2)) & 0xF;
    }

    /** Writes {@code code} at nibble index {@code index} of a packed array, keeping the other nibble. */
    public static void setCodeAt(byte[] packed, long index, int code) {
        if ((code & ~0xF) != 0) {
            throw new IllegalArgumentException("E2M1 code must be in 0..15, got " + code);
        }
        int i = Math.toIntExact(index >>> 1);
        int shift = (int) (index & 1) << 2;
        packed[i] = (byte) ((packed[i] & ~(0xF << shift)) | code << shift);
    }

    private static void requireNotNaN(float x) {
        if (x != x) {
            throw new IllegalArgumentException("E2M1 has no NaN: cannot encode NaN");
        }
    }
}
