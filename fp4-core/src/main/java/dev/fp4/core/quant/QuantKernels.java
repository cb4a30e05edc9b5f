package dev.fp4.core.quant;

import dev.fp4.core.simd.Simd;
import java.util.Objects;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The hot loops of FP4 quantization as static methods over arrays with offsets: absolute maximum,
 * scale-and-encode-and-pack, decode, fake quantization. Each public kernel has a scalar twin
 * ({@code ...Scalar}) that defines its result; the vector kernel equals it bit for bit.
 *
 * <p>Packed codes are addressed by nibble index: index i is the low nibble of byte i/2 when i is
 * even, the high nibble when odd. The encoding kernels use the same index as the element's
 * counter for stochastic rounding, so a tensor's flat row-major index decides its variate.
 *
 * <p>Encoding of a scaled value y = fl(x·m): RNE, HALF_UP and stochastic as in
 * {@link dev.fp4.core.format.E2M1}, except that these kernels never throw: NaN saturates like
 * ∞ (magnitude 6 with the NaN's sign bit; +6 for HALF_UP, as the official kernel does). Callers
 * handle non-finite input before (the quantizers reject it or mark the block NaN).
 */
public final class QuantKernels {

    /** E2M1 magnitudes by 3-bit code. */
    static final float[] MAGNITUDES = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};

    private QuantKernels() {
    }

    // ---------------------------------------------------------------- absolute maximum

    /**
     * max |x[off+i]| over n elements (0 for n = 0); the canonical NaN if any element is NaN, else
     * +∞ if any is infinite.
     */
    public static float absMax(float[] x, int off, int n) {
        if (!Simd.ENABLED) {
            return absMaxScalar(x, off, n);
        }
        Objects.checkFromIndexSize(off, n, x.length);
        return absMaxVector(x, off, n);
    }

    /** Scalar twin of {@link #absMax}. */
    public static float absMaxScalar(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        float m = 0f;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, Math.abs(x[off + i]));
        }
        return m != m ? Float.NaN : m;
    }

    /** acc[accOff+i] = max(acc[accOff+i], |x[off+i]|) for i &lt; n (NaN propagates as in Math.max). */
    public static void absMaxInto(float[] x, int off, float[] acc, int accOff, int n) {
        if (!Simd.ENABLED) {
            absMaxIntoScalar(x, off, acc, accOff, n);
            return;
        }
        Objects.checkFromIndexSize(off, n, x.length);
        Objects.checkFromIndexSize(accOff, n, acc.length);
        absMaxIntoVector(x, off, acc, accOff, n);
    }

    /** Scalar twin of {@link #absMaxInto}. */
    public static void absMaxIntoScalar(float[] x, int off, float[] acc, int accOff, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        Objects.checkFromIndexSize(accOff, n, acc.length);
        for (int i = 0; i < n; i++) {
            float m = Math.max(acc[accOff + i], Math.abs(x[off + i]));
            acc[accOff + i] = m != m ? Float.NaN : m;
        }
    }

    /** Index (relative to off) of the first NaN or infinite element, or −1. */
    public static int firstNonFinite(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(x[off + i])) {
                return i;
            }
        }
        return -1;
    }

    // ---------------------------------------------------------------- encode

    /**
     * Encodes {@code n} elements: code of y = fl(x[xOff+i]·mul[mulOff+i]) by the rounding, written
     * at nibble index {@code index+i} of {@code dst} (the other nibble of a shared byte is kept).
     */
    public static void encode(float[] x, int xOff, float[] mul, int mulOff, int n, Rounding rounding,
            byte[] dst, int index) {
        if (!Simd.ENABLED) {
            encodeScalar(x, xOff, mul, mulOff, n, rounding, dst, index);
            return;
        }
        checkEncode(x, xOff, mul, mulOff, n, dst, index);
        switch (rounding.mode()) {
            case NEAREST_EVEN -> encodeRneVector(x, xOff, mul, mulOff, n, rounding, dst, index);
            case HALF_UP -> encodeHalfUpVector(x, xOff, mul, mulOff, n, rounding, dst, index);
            case STOCHASTIC -> encodeStochasticVector(x, xOff, mul, mulOff, n, rounding, dst, index);
        }
    }

    /** Scalar twin of {@link #encode}. */
    public static void encodeScalar(float[] x, int xOff, float[] mul, int mulOff, int n, Rounding rounding,
            byte[] dst, int index) {
        checkEncode(x, xOff, mul, mulOff, n, dst, index);
        int k0 = rounding.key0();
        int k1 = rounding.key1();
        Rounding.Mode mode = rounding.mode();
        for (int i = 0; i < n; i++) {
            float y = x[xOff + i] * mul[mulOff + i];
            int c = switch (mode) {
                case NEAREST_EVEN -> rne(y);
                case HALF_UP -> halfUp(y);
                case STOCHASTIC -> stochastic(y, uniform(hash(index + i, k0, k1)));
            };
            int j = index + i;
            int shift = (j & 1) << 2;
            dst[j >>> 1] = (byte) ((dst[j >>> 1] & ~(0xF << shift)) | c << shift);
        }
    }

    private static void checkEncode(float[] x, int xOff, float[] mul, int mulOff, int n, byte[] dst, int index) {
        Objects.checkFromIndexSize(xOff, n, x.length);
        Objects.checkFromIndexSize(mulOff, n, mul.length);
        if (index < 0 || n < 0 || ((long) index + n + 1) / 2 > dst.length) {
            throw new IndexOutOfBoundsException("nibbles [" + index + ", " + ((long) index + n)
                    + ") out of bounds for " + dst.length + " bytes");
        }
    }

    // ---------------------------------------------------------------- encode by blocks, fused with the next row's absmax

    /**
     * Encodes one row of {@code n} elements in blocks of {@code blockCols} (the last may be
     * partial; {@code blockCols >= n} means one block) with one multiplier per block,
     * {@code blockMul[bmOff + j]}, writing codes from nibble {@code index}; and, in the same pass,
     * when {@code next != null}, writes the absolute maximum of each block of the row
     * {@code next[nextOff, nextOff+n)} to {@code nextAmax[naOff + j]} (canonical NaN if it holds a
     * NaN). A row-by-row quantizer thus streams each row from memory once, computing its scales
     * while the previous row is encoded from cache. Equals {@link #encodeBlocksScalar}.
     */
    public static void encodeBlocks(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff,
            Rounding rounding, byte[] dst, int index, float[] next, int nextOff, float[] nextAmax, int naOff) {
        int blocks = checkBlocks(x, xOff, n, blockCols, blockMul, bmOff, dst, index, next, nextOff, nextAmax, naOff);
        if (!Simd.ENABLED || !blocksVectorized(index, n, blockCols) || blocks == 0) {
            encodeBlocksScalar(x, xOff, n, blockCols, blockMul, bmOff, rounding, dst, index, next, nextOff, nextAmax,
                    naOff);
            return;
        }
        int bc = Math.min(blockCols, n);
        switch (rounding.mode()) {
            case NEAREST_EVEN -> encodeBlocksRneVector(x, xOff, n, bc, blockMul, bmOff, rounding, dst, index, next,
                    nextOff, nextAmax, naOff);
            case HALF_UP -> encodeBlocksHalfUpVector(x, xOff, n, bc, blockMul, bmOff, rounding, dst, index, next,
                    nextOff, nextAmax, naOff);
            case STOCHASTIC -> encodeBlocksStochasticVector(x, xOff, n, bc, blockMul, bmOff, rounding, dst, index,
                    next, nextOff, nextAmax, naOff);
        }
    }

    /**
     * {@code true} when {@link #encodeBlocks} runs vectorized for these arguments: the row starts
     * on a byte (even nibble index) and every vector lies inside one block (one block, or blocks a
     * multiple of the vector length). Otherwise it runs its scalar twin.
     */
    public static boolean blocksVectorized(int index, int n, int blockCols) {
        return Simd.ENABLED && (index & 1) == 0 && (blockCols >= n || blockCols % L == 0);
    }

    /** Scalar twin of {@link #encodeBlocks}. */
    public static void encodeBlocksScalar(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff,
            Rounding rounding, byte[] dst, int index, float[] next, int nextOff, float[] nextAmax, int naOff) {
        int blocks = checkBlocks(x, xOff, n, blockCols, blockMul, bmOff, dst, index, next, nextOff, nextAmax, naOff);
        for (int j = 0; j < blocks; j++) {
            int c0 = j * blockCols;
            int len = Math.min(blockCols, n - c0);
            encodeScalarConstant(x, xOff + c0, len, blockMul[bmOff + j], rounding, dst, index + c0);
            if (next != null) {
                nextAmax[naOff + j] = absMaxScalar(next, nextOff + c0, len);
            }
        }
    }

    private static int checkBlocks(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff, byte[] dst,
            int index, float[] next, int nextOff, float[] nextAmax, int naOff) {
        if (blockCols <= 0) {
            throw new IllegalArgumentException("blockCols must be positive, got " + blockCols);
        }
        Objects.checkFromIndexSize(xOff, n, x.length);
        int blocks = n == 0 ? 0 : (int) (((long) n + blockCols - 1) / blockCols);
        Objects.checkFromIndexSize(bmOff, blocks, blockMul.length);
        if (index < 0 || n < 0 || ((long) index + n + 1) / 2 > dst.length) {
            throw new IndexOutOfBoundsException("nibbles [" + index + ", " + ((long) index + n)
                    + ") out of bounds for " + dst.length + " bytes");
        }
        if (next != null) {
            Objects.checkFromIndexSize(nextOff, n, next.length);
            Objects.checkFromIndexSize(naOff, blocks, nextAmax.length);
        }
        return blocks;
    }

    /** Scalar encoding of n elements with one multiplier m. */
    private static void encodeScalarConstant(float[] x, int xOff, int n, float m, Rounding rounding, byte[] dst,
            int index) {
        int k0 = rounding.key0();
        int k1 = rounding.key1();
        Rounding.Mode mode = rounding.mode();
        for (int i = 0; i < n; i++) {
            float y = x[xOff + i] * m;
            int c = switch (mode) {
                case NEAREST_EVEN -> rne(y);
                case HALF_UP -> halfUp(y);
                case STOCHASTIC -> stochastic(y, uniform(hash(index + i, k0, k1)));
            };
            int j = index + i;
            int shift = (j & 1) << 2;
            dst[j >>> 1] = (byte) ((dst[j >>> 1] & ~(0xF << shift)) | c << shift);
        }
    }

    /** RNE code of y (ties to even, saturating; NaN saturates like ∞, keeping its sign bit). */
    static int rne(float y) {
        int sign = (Float.floatToRawIntBits(y) >>> 28) & 8;
        float a = Math.abs(y);
        if (a != a) {
            return sign | 7;
        }
        return sign | ((a > 0.25f ? 1 : 0) + (a >= 0.75f ? 1 : 0) + (a > 1.25f ? 1 : 0) + (a >= 1.75f ? 1 : 0)
                + (a > 2.5f ? 1 : 0) + (a >= 3.5f ? 1 : 0) + (a > 5f ? 1 : 0));
    }

    /** HALF_UP code of y (ties toward +∞, zero always +0; NaN → +6 as in the official kernel). */
    static int halfUp(float y) {
        if (y != y) {
            return 7;
        }
        int pos = (y >= 0.25f ? 1 : 0) + (y >= 0.75f ? 1 : 0) + (y >= 1.25f ? 1 : 0) + (y >= 1.75f ? 1 : 0)
                + (y >= 2.5f ? 1 : 0) + (y >= 3.5f ? 1 : 0) + (y >= 5f ? 1 : 0);
        int neg = (y < -0.25f ? 1 : 0) + (y < -0.75f ? 1 : 0) + (y < -1.25f ? 1 : 0) + (y < -1.75f ? 1 : 0)
                + (y < -2.5f ? 1 : 0) + (y < -3.5f ? 1 : 0) + (y < -5f ? 1 : 0);
        return neg != 0 ? 8 | neg : pos;
    }

    /** Stochastic code of y with variate u (see {@link dev.fp4.core.format.E2M1#encodeStochastic}). */
    static int stochastic(float y, float u) {
        int sign = (Float.floatToRawIntBits(y) >>> 28) & 8;
        float a = Math.abs(y);
        if (a != a) {
            a = Float.POSITIVE_INFINITY; // NaN saturates like infinity, keeping its sign bit
        }
        int m = 0;
        float lo = 0f;
        float inv = 2f;
        if (a >= 0.5f) { m = 1; lo = 0.5f; }
        if (a >= 1f) { m = 2; lo = 1f; }
        if (a >= 1.5f) { m = 3; lo = 1.5f; }
        if (a >= 2f) { m = 4; lo = 2f; inv = 1f; }
        if (a >= 3f) { m = 5; lo = 3f; }
        if (a >= 4f) { m = 6; lo = 4f; inv = 0.5f; }
        if (a >= 6f) { m = 7; lo = 6f; inv = 0f; }
        if (u < (a - lo) * inv) {
            m++;
        }
        return sign | m;
    }

    /**
     * Counter-based hash of an element index under a 64-bit key (two rounds of the "lowbias32"
     * integer finaliser). Pure int arithmetic, the same in scalar and vector lanes.
     */
    static int hash(int index, int k0, int k1) {
        int h = index * 0x9E3779B9 ^ k0;
        h ^= h >>> 16;
        h *= 0x7FEB352D;
        h ^= h >>> 15;
        h *= 0x846CA68B;
        h ^= h >>> 16;
        h ^= k1;
        h ^= h >>> 16;
        h *= 0x7FEB352D;
        h ^= h >>> 15;
        h *= 0x846CA68B;
        h ^= h >>> 16;
        return h;
    }

    /** The top 24 bits of a hash as a float in [0, 1). */
    static float uniform(int h) {
        return (h >>> 8) * 0x1p-24f;
    }

    // ---------------------------------------------------------------- decode

    /** dst[dstOff+i] = E2M1 value of the code at nibble index {@code index+i}, for i &lt; n. */
    public static void decode(byte[] src, int index, int n, float[] dst, int dstOff) {
        if (!Simd.ENABLED) {
            decodeScalar(src, index, n, dst, dstOff);
            return;
        }
        checkDecode(src, index, n, dst, dstOff);
        decodeVector(src, index, n, dst, dstOff);
    }

    /** Scalar twin of {@link #decode}. */
    public static void decodeScalar(byte[] src, int index, int n, float[] dst, int dstOff) {
        checkDecode(src, index, n, dst, dstOff);
        for (int i = 0; i < n; i++) {
            int j = index + i;
            int c = (src[j >>> 1] >>> ((j & 1) << 2)) & 0xF;
            float v = MAGNITUDES[c & 7];
            dst[dstOff + i] = (c & 8) != 0 ? -v : v;
        }
    }

    private static void checkDecode(byte[] src, int index, int n, float[] dst, int dstOff) {
        Objects.checkFromIndexSize(dstOff, n, dst.length);
        if (index < 0 || n < 0 || ((long) index + n + 1) / 2 > src.length) {
            throw new IndexOutOfBoundsException("nibbles [" + index + ", " + ((long) index + n)
                    + ") out of bounds for " + src.length + " bytes");
        }
    }

    // ---------------------------------------------------------------- scaling

    /** x[off+i] *= s for i &lt; n. */
    public static void scale(float[] x, int off, int n, float s) {
        if (!Simd.ENABLED) {
            scaleScalar(x, off, n, s);
            return;
        }
        Objects.checkFromIndexSize(off, n, x.length);
        scaleVector(x, off, n, s);
    }

    /** Scalar twin of {@link #scale}. */
    public static void scaleScalar(float[] x, int off, int n, float s) {
        Objects.checkFromIndexSize(off, n, x.length);
        for (int i = 0; i < n; i++) {
            x[off + i] *= s;
        }
    }

    /** x[off+i] *= s[sOff+i] for i &lt; n. */
    public static void multiply(float[] x, int off, float[] s, int sOff, int n) {
        if (!Simd.ENABLED) {
            multiplyScalar(x, off, s, sOff, n);
            return;
        }
        Objects.checkFromIndexSize(off, n, x.length);
        Objects.checkFromIndexSize(sOff, n, s.length);
        multiplyVector(x, off, s, sOff, n);
    }

    /** Scalar twin of {@link #multiply}. */
    public static void multiplyScalar(float[] x, int off, float[] s, int sOff, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        Objects.checkFromIndexSize(sOff, n, s.length);
        for (int i = 0; i < n; i++) {
            x[off + i] *= s[sOff + i];
        }
    }

    // ---------------------------------------------------------------- fake quantization

    /**
     * In place: x[off+i] = (E2M1(fl(x·mul[mulOff+i])) · scl[sclOff+i]) · tensorScale, the code
     * rounded as in {@link #encode} with element counter {@code index+i}.
     */
    public static void fakeQuantize(float[] x, int off, float[] mul, int mulOff, float[] scl, int sclOff, int n,
            float tensorScale, Rounding rounding, int index) {
        if (!Simd.ENABLED) {
            fakeQuantizeScalar(x, off, mul, mulOff, scl, sclOff, n, tensorScale, rounding, index);
            return;
        }
        Objects.checkFromIndexSize(off, n, x.length);
        Objects.checkFromIndexSize(mulOff, n, mul.length);
        Objects.checkFromIndexSize(sclOff, n, scl.length);
        switch (rounding.mode()) {
            case NEAREST_EVEN -> fakeQuantizeRneVector(x, off, mul, mulOff, scl, sclOff, n, tensorScale, rounding, index);
            case HALF_UP -> fakeQuantizeHalfUpVector(x, off, mul, mulOff, scl, sclOff, n, tensorScale, rounding, index);
            case STOCHASTIC -> fakeQuantizeStochasticVector(x, off, mul, mulOff, scl, sclOff, n, tensorScale, rounding,
                    index);
        }
    }

    /** Scalar twin of {@link #fakeQuantize}. */
    public static void fakeQuantizeScalar(float[] x, int off, float[] mul, int mulOff, float[] scl, int sclOff,
            int n, float tensorScale, Rounding rounding, int index) {
        Objects.checkFromIndexSize(off, n, x.length);
        Objects.checkFromIndexSize(mulOff, n, mul.length);
        Objects.checkFromIndexSize(sclOff, n, scl.length);
        int k0 = rounding.key0();
        int k1 = rounding.key1();
        Rounding.Mode mode = rounding.mode();
        for (int i = 0; i < n; i++) {
            float y = x[off + i] * mul[mulOff + i];
            int c = switch (mode) {
                case NEAREST_EVEN -> rne(y);
                case HALF_UP -> halfUp(y);
                case STOCHASTIC -> stochastic(y, uniform(hash(index + i, k0, k1)));
            };
            float v = MAGNITUDES[c & 7];
            v = (c & 8) != 0 ? -v : v;
            x[off + i] = v * scl[sclOff + i] * tensorScale;
        }
    }
    // ================================================================ vector kernels
    // Layout of the vector code (after Lucene's PanamaVectorUtilSupport): one species from Simd,
    // vector bodies written out in full inside each kernel (no helper methods taking or returning
    // vectors, which might not inline and would then box), scalar head and tail through the twin.

    private static final VectorSpecies<Float> F = Simd.FLOAT;
    private static final VectorSpecies<Integer> I = Simd.INT;
    private static final int L = F.length();
    /** Bytes of 2L packed codes: L lanes, or 8 when L = 4 (the smallest byte species). */
    private static final VectorSpecies<Byte> BV = L >= 16 ? ByteVector.SPECIES_128 : ByteVector.SPECIES_64;
    /** L codes pack into L/2 bytes, held in a 64-bit byte vector (exactly full when L = 16). */
    private static final VectorSpecies<Byte> PACK = ByteVector.SPECIES_64;
    private static final boolean PACK_EXACT = PACK.length() == L / 2;
    private static final int[] INTERLEAVE_LO = new int[L];
    private static final int[] INTERLEAVE_HI = new int[L];
    private static final int[] IOTA = new int[L];
    /** Bits of the 16 E2M1 values by code (padded to L entries). */
    private static final int[] VALUE_BITS = new int[Math.max(16, L)];
    /** Bits of the 8 E2M1 magnitudes by 3-bit code (padded to L entries). */
    private static final int[] MAGNITUDE_BITS = new int[Math.max(8, L)];

    static {
        for (int k = 0; k < L; k++) {
            INTERLEAVE_LO[k] = (k & 1) == 0 ? k / 2 : L + k / 2;
            INTERLEAVE_HI[k] = (k & 1) == 0 ? L / 2 + k / 2 : L + L / 2 + k / 2;
            IOTA[k] = k;
        }
        for (int c = 0; c < 16; c++) {
            float v = MAGNITUDES[c & 7];
            VALUE_BITS[c] = Float.floatToRawIntBits((c & 8) != 0 ? -v : v);
        }
        for (int c = 0; c < 8; c++) {
            MAGNITUDE_BITS[c] = Float.floatToRawIntBits(MAGNITUDES[c]);
        }
    }

    private static float absMaxVector(float[] x, int off, int n) {
        // |x| as FP32 bits orders like the values (NaN bits above +inf), so an integer max is
        // exact and avoids the NaN-aware float max sequence. The mask is broadcast once, outside the
        // loop: no lanewise(op, scalar) call, whose shared receiver profile C2 consults, in the loop.
        IntVector magnitude = IntVector.broadcast(I, 0x7FFFFFFF);
        IntVector acc0 = IntVector.zero(I);
        IntVector acc1 = IntVector.zero(I);
        IntVector acc2 = IntVector.zero(I);
        IntVector acc3 = IntVector.zero(I);
        int i = 0;
        for (; i + 4 * L <= n; i += 4 * L) {
            acc0 = acc0.max(FloatVector.fromArray(F, x, off + i).reinterpretAsInts().and(magnitude));
            acc1 = acc1.max(FloatVector.fromArray(F, x, off + i + L).reinterpretAsInts().and(magnitude));
            acc2 = acc2.max(FloatVector.fromArray(F, x, off + i + 2 * L).reinterpretAsInts().and(magnitude));
            acc3 = acc3.max(FloatVector.fromArray(F, x, off + i + 3 * L).reinterpretAsInts().and(magnitude));
        }
        for (; i + L <= n; i += L) {
            acc0 = acc0.max(FloatVector.fromArray(F, x, off + i).reinterpretAsInts().and(magnitude));
        }
        int m = acc0.max(acc1).max(acc2.max(acc3)).reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            m = Math.max(m, Float.floatToRawIntBits(x[off + i]) & 0x7FFFFFFF);
        }
        return m > 0x7F800000 ? Float.NaN : Float.intBitsToFloat(m);
    }

    private static void absMaxIntoVector(float[] x, int off, float[] acc, int accOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector m = FloatVector.fromArray(F, acc, accOff + i).max(FloatVector.fromArray(F, x, off + i).abs());
            m = m.blend(Float.NaN, m.test(VectorOperators.IS_NAN));
            m.intoArray(acc, accOff + i);
        }
        if (i < n) {
            absMaxIntoScalar(x, off + i, acc, accOff + i, n - i);
        }
    }

    private static void scaleVector(float[] x, int off, int n, float s) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, x, off + i).mul(s).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= s;
        }
    }

    private static void multiplyVector(float[] x, int off, float[] s, int sOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, x, off + i).mul(FloatVector.fromArray(F, s, sOff + i)).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= s[sOff + i];
        }
    }

    private static void decodeVector(byte[] src, int index, int n, float[] dst, int dstOff) {
        int i = 0;
        if ((index & 1) != 0 && n > 0) {
            decodeScalar(src, index, 1, dst, dstOff);
            i = 1;
        }
        IntVector interleaveLo = IntVector.fromArray(I, INTERLEAVE_LO, 0);
        IntVector interleaveHi = IntVector.fromArray(I, INTERLEAVE_HI, 0);
        IntVector tableA = IntVector.fromArray(I, L >= 16 ? VALUE_BITS : L == 8 ? VALUE_BITS : MAGNITUDE_BITS, 0);
        IntVector tableB = IntVector.fromArray(I, L >= 16 ? VALUE_BITS : L == 8 ? VALUE_BITS : MAGNITUDE_BITS,
                L >= 16 ? 0 : L);
        for (; i + 2 * L <= n && ((index + i) >>> 1) + BV.length() <= src.length; i += 2 * L) {
            ByteVector b = ByteVector.fromArray(BV, src, (index + i) >>> 1);
            IntVector w = (IntVector) b.convertShape(VectorOperators.B2I, I, 0);
            IntVector cl = w.and(0xF);
            IntVector ch = w.lanewise(VectorOperators.LSHR, 4).and(0xF);
            IntVector vl;
            IntVector vh;
            if (L >= 16) {
                vl = cl.selectFrom(tableA);
                vh = ch.selectFrom(tableA);
            } else if (L == 8) {
                vl = cl.selectFrom(tableA, tableB);
                vh = ch.selectFrom(tableA, tableB);
            } else {
                vl = cl.and(7).selectFrom(tableA, tableB).or(cl.and(8).lanewise(VectorOperators.LSHL, 28));
                vh = ch.and(7).selectFrom(tableA, tableB).or(ch.and(8).lanewise(VectorOperators.LSHL, 28));
            }
            interleaveLo.selectFrom(vl, vh).reinterpretAsFloats().intoArray(dst, dstOff + i);
            interleaveHi.selectFrom(vl, vh).reinterpretAsFloats().intoArray(dst, dstOff + i + L);
        }
        if (i < n) {
            decodeScalar(src, index + i, n - i, dst, dstOff + i);
        }
    }

    private static void encodeRneVector(float[] x, int xOff, float[] mul, int mulOff, int n, Rounding rounding,
            byte[] dst, int index) {

        int i = 0;
        if ((index & 1) != 0 && n > 0) {
            encodeScalar(x, xOff, mul, mulOff, 1, rounding, dst, index);
            i = 1;
        }
        VectorMask<Byte> store = PACK.indexInRange(0, L / 2);

        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(FloatVector.fromArray(F, mul, mulOff + i));

            IntVector bc0 = y0.reinterpretAsInts();
            IntVector mc0 = bc0.and(0x7FFFFFFF);
            IntVector smallc0 = mc0.reinterpretAsFloats().add(0x1p22f).reinterpretAsInts().sub(0x4A800000).min(2);
            IntVector bigc0 = mc0.add(mc0.lanewise(VectorOperators.LSHR, 22).and(1)).add(0x1FFFFF)
                    .lanewise(VectorOperators.LSHR, 22).sub(252).min(7);
            IntVector c0 = bigc0.max(smallc0).or(bc0.lanewise(VectorOperators.LSHR, 28).and(8));
            // Codes 2k and 2k+1 share a 64-bit lane (little-endian): byte = low | (high << 4).
            LongVector pair = c0.reinterpretAsLongs();
            ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                    .convertShape(VectorOperators.L2B, PACK, 0);
            if (PACK_EXACT) {
                b.intoArray(dst, (index + i) >>> 1);
            } else {
                b.intoArray(dst, (index + i) >>> 1, store);
            }
        }
        if (i < n) {
            encodeScalar(x, xOff + i, mul, mulOff + i, n - i, rounding, dst, index + i);
        }
    }

    private static void fakeQuantizeRneVector(float[] x, int off, float[] mul, int mulOff, float[] scl, int sclOff,
            int n, float tensorScale, Rounding rounding, int index) {

        IntVector magA = IntVector.fromArray(I, MAGNITUDE_BITS, 0);
        IntVector magB = IntVector.fromArray(I, MAGNITUDE_BITS, L >= 8 ? 0 : L);

        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, off + i).mul(FloatVector.fromArray(F, mul, mulOff + i));

            IntVector bc0 = y0.reinterpretAsInts();
            IntVector mc0 = bc0.and(0x7FFFFFFF);
            IntVector smallc0 = mc0.reinterpretAsFloats().add(0x1p22f).reinterpretAsInts().sub(0x4A800000).min(2);
            IntVector bigc0 = mc0.add(mc0.lanewise(VectorOperators.LSHR, 22).and(1)).add(0x1FFFFF)
                    .lanewise(VectorOperators.LSHR, 22).sub(252).min(7);
            IntVector c0 = bigc0.max(smallc0).or(bc0.lanewise(VectorOperators.LSHR, 28).and(8));
            IntVector q0 = c0.and(7);
            IntVector bits;
            if (L >= 8) {
                bits = q0.selectFrom(magA);
            } else {
                bits = q0.selectFrom(magA, magB);
            }
            bits = bits.or(c0.and(8).lanewise(VectorOperators.LSHL, 28));
            bits.reinterpretAsFloats().mul(FloatVector.fromArray(F, scl, sclOff + i)).mul(tensorScale)
                    .intoArray(x, off + i);
        }
        if (i < n) {
            fakeQuantizeScalar(x, off + i, mul, mulOff + i, scl, sclOff + i, n - i, tensorScale, rounding, index + i);
        }
    }

    private static void encodeHalfUpVector(float[] x, int xOff, float[] mul, int mulOff, int n, Rounding rounding,
            byte[] dst, int index) {

        int i = 0;
        if ((index & 1) != 0 && n > 0) {
            encodeScalar(x, xOff, mul, mulOff, 1, rounding, dst, index);
            i = 1;
        }
        VectorMask<Byte> store = PACK.indexInRange(0, L / 2);

        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(FloatVector.fromArray(F, mul, mulOff + i));

            IntVector c0 = IntVector.zero(I);
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 2.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -2.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 3.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -3.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -5f).cast(I));
            c0 = c0.lanewise(VectorOperators.OR, 8, y0.compare(VectorOperators.LT, -0.25f).cast(I));
            c0 = c0.blend(7, y0.test(VectorOperators.IS_NAN).cast(I));
            // Codes 2k and 2k+1 share a 64-bit lane (little-endian): byte = low | (high << 4).
            LongVector pair = c0.reinterpretAsLongs();
            ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                    .convertShape(VectorOperators.L2B, PACK, 0);
            if (PACK_EXACT) {
                b.intoArray(dst, (index + i) >>> 1);
            } else {
                b.intoArray(dst, (index + i) >>> 1, store);
            }
        }
        if (i < n) {
            encodeScalar(x, xOff + i, mul, mulOff + i, n - i, rounding, dst, index + i);
        }
    }

    private static void fakeQuantizeHalfUpVector(float[] x, int off, float[] mul, int mulOff, float[] scl, int sclOff,
            int n, float tensorScale, Rounding rounding, int index) {

        IntVector magA = IntVector.fromArray(I, MAGNITUDE_BITS, 0);
        IntVector magB = IntVector.fromArray(I, MAGNITUDE_BITS, L >= 8 ? 0 : L);

        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, off + i).mul(FloatVector.fromArray(F, mul, mulOff + i));

            IntVector c0 = IntVector.zero(I);
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 2.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -2.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 3.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -3.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -5f).cast(I));
            c0 = c0.lanewise(VectorOperators.OR, 8, y0.compare(VectorOperators.LT, -0.25f).cast(I));
            c0 = c0.blend(7, y0.test(VectorOperators.IS_NAN).cast(I));
            IntVector q0 = c0.and(7);
            IntVector bits;
            if (L >= 8) {
                bits = q0.selectFrom(magA);
            } else {
                bits = q0.selectFrom(magA, magB);
            }
            bits = bits.or(c0.and(8).lanewise(VectorOperators.LSHL, 28));
            bits.reinterpretAsFloats().mul(FloatVector.fromArray(F, scl, sclOff + i)).mul(tensorScale)
                    .intoArray(x, off + i);
        }
        if (i < n) {
            fakeQuantizeScalar(x, off + i, mul, mulOff + i, scl, sclOff + i, n - i, tensorScale, rounding, index + i);
        }
    }

    private static void encodeStochasticVector(float[] x, int xOff, float[] mul, int mulOff, int n, Rounding rounding,
            byte[] dst, int index) {
        int k0 = rounding.key0();
        int k1 = rounding.key1();
        int i = 0;
        if ((index & 1) != 0 && n > 0) {
            encodeScalar(x, xOff, mul, mulOff, 1, rounding, dst, index);
            i = 1;
        }
        VectorMask<Byte> store = PACK.indexInRange(0, L / 2);
        IntVector iota = IntVector.fromArray(I, IOTA, 0);
        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(FloatVector.fromArray(F, mul, mulOff + i));
            IntVector idx0 = iota.add(index + i);
            IntVector hc0 = idx0.mul(0x9E3779B9).lanewise(VectorOperators.XOR, k0);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).lanewise(VectorOperators.XOR, k1);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16));
            FloatVector uc0 = ((FloatVector) hc0.lanewise(VectorOperators.LSHR, 8).convert(VectorOperators.I2F, 0)).mul(0x1p-24f);
            FloatVector ac0 = y0.abs();
            ac0 = ac0.blend(Float.POSITIVE_INFINITY, ac0.test(VectorOperators.IS_NAN));
            IntVector c0 = y0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 28).and(8);
            FloatVector loc0 = FloatVector.zero(F);
            FloatVector invc0 = FloatVector.broadcast(F, 2f);
            VectorMask<Float> gc0;
            gc0 = ac0.compare(VectorOperators.GE, 0.5f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(0.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 1f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(1f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 1.5f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(1.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 2f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(2f, gc0);
            invc0 = invc0.blend(1f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 3f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(3f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 4f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(4f, gc0);
            invc0 = invc0.blend(0.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 6f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(6f, gc0);
            invc0 = invc0.blend(0f, gc0);
            c0 = c0.add(1, uc0.compare(VectorOperators.LT, ac0.sub(loc0).mul(invc0)).cast(I));
            // Codes 2k and 2k+1 share a 64-bit lane (little-endian): byte = low | (high << 4).
            LongVector pair = c0.reinterpretAsLongs();
            ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                    .convertShape(VectorOperators.L2B, PACK, 0);
            if (PACK_EXACT) {
                b.intoArray(dst, (index + i) >>> 1);
            } else {
                b.intoArray(dst, (index + i) >>> 1, store);
            }
        }
        if (i < n) {
            encodeScalar(x, xOff + i, mul, mulOff + i, n - i, rounding, dst, index + i);
        }
    }

    private static void fakeQuantizeStochasticVector(float[] x, int off, float[] mul, int mulOff, float[] scl, int sclOff,
            int n, float tensorScale, Rounding rounding, int index) {
        int k0 = rounding.key0();
        int k1 = rounding.key1();
        IntVector magA = IntVector.fromArray(I, MAGNITUDE_BITS, 0);
        IntVector magB = IntVector.fromArray(I, MAGNITUDE_BITS, L >= 8 ? 0 : L);
        IntVector iota = IntVector.fromArray(I, IOTA, 0);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, off + i).mul(FloatVector.fromArray(F, mul, mulOff + i));
            IntVector idx0 = iota.add(index + i);
            IntVector hc0 = idx0.mul(0x9E3779B9).lanewise(VectorOperators.XOR, k0);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).lanewise(VectorOperators.XOR, k1);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16));
            FloatVector uc0 = ((FloatVector) hc0.lanewise(VectorOperators.LSHR, 8).convert(VectorOperators.I2F, 0)).mul(0x1p-24f);
            FloatVector ac0 = y0.abs();
            ac0 = ac0.blend(Float.POSITIVE_INFINITY, ac0.test(VectorOperators.IS_NAN));
            IntVector c0 = y0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 28).and(8);
            FloatVector loc0 = FloatVector.zero(F);
            FloatVector invc0 = FloatVector.broadcast(F, 2f);
            VectorMask<Float> gc0;
            gc0 = ac0.compare(VectorOperators.GE, 0.5f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(0.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 1f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(1f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 1.5f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(1.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 2f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(2f, gc0);
            invc0 = invc0.blend(1f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 3f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(3f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 4f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(4f, gc0);
            invc0 = invc0.blend(0.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 6f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(6f, gc0);
            invc0 = invc0.blend(0f, gc0);
            c0 = c0.add(1, uc0.compare(VectorOperators.LT, ac0.sub(loc0).mul(invc0)).cast(I));
            IntVector q0 = c0.and(7);
            IntVector bits;
            if (L >= 8) {
                bits = q0.selectFrom(magA);
            } else {
                bits = q0.selectFrom(magA, magB);
            }
            bits = bits.or(c0.and(8).lanewise(VectorOperators.LSHL, 28));
            bits.reinterpretAsFloats().mul(FloatVector.fromArray(F, scl, sclOff + i)).mul(tensorScale)
                    .intoArray(x, off + i);
        }
        if (i < n) {
            fakeQuantizeScalar(x, off + i, mul, mulOff + i, scl, sclOff + i, n - i, tensorScale, rounding, index + i);
        }
    }

    private static void encodeBlocksRneVector(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff,
            Rounding rounding, byte[] dst, int index, float[] next, int nextOff, float[] nextAmax, int naOff) {

        // One block per outer iteration (blockCols is a multiple of L or the whole row), so no
        // vector lives across blocks or past the loops: nothing is boxed.
        int blocks = (n + blockCols - 1) / blockCols;
        int i = 0;
        for (int j = 0; j < blocks; j++) {
            int end = Math.min(n, (j + 1) * blockCols);
            float m = blockMul[bmOff + j];
            if (next != null) {
                IntVector acc = IntVector.zero(I);
                for (; i + L <= end; i += L) {
                    acc = acc.max(FloatVector.fromArray(F, next, nextOff + i).reinterpretAsInts().and(0x7FFFFFFF));
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);

                    IntVector bc0 = y0.reinterpretAsInts();
                    IntVector mc0 = bc0.and(0x7FFFFFFF);
                    IntVector smallc0 = mc0.reinterpretAsFloats().add(0x1p22f).reinterpretAsInts().sub(0x4A800000).min(2);
                    IntVector bigc0 = mc0.add(mc0.lanewise(VectorOperators.LSHR, 22).and(1)).add(0x1FFFFF)
                            .lanewise(VectorOperators.LSHR, 22).sub(252).min(7);
                    IntVector c0 = bigc0.max(smallc0).or(bc0.lanewise(VectorOperators.LSHR, 28).and(8));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
                int a = acc.reduceLanes(VectorOperators.MAX);
                for (int t = i; t < end; t++) {
                    a = Math.max(a, Float.floatToRawIntBits(next[nextOff + t]) & 0x7FFFFFFF);
                }
                nextAmax[naOff + j] = a > 0x7F800000 ? Float.NaN : Float.intBitsToFloat(a);
            } else {
                for (; i + L <= end; i += L) {
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);

                    IntVector bc0 = y0.reinterpretAsInts();
                    IntVector mc0 = bc0.and(0x7FFFFFFF);
                    IntVector smallc0 = mc0.reinterpretAsFloats().add(0x1p22f).reinterpretAsInts().sub(0x4A800000).min(2);
                    IntVector bigc0 = mc0.add(mc0.lanewise(VectorOperators.LSHR, 22).and(1)).add(0x1FFFFF)
                            .lanewise(VectorOperators.LSHR, 22).sub(252).min(7);
                    IntVector c0 = bigc0.max(smallc0).or(bc0.lanewise(VectorOperators.LSHR, 28).and(8));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
            }
            if (i < end) {
                encodeScalarConstant(x, xOff + i, end - i, m, rounding, dst, index + i);
                i = end;
            }
        }
    }

    private static void encodeBlocksHalfUpVector(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff,
            Rounding rounding, byte[] dst, int index, float[] next, int nextOff, float[] nextAmax, int naOff) {

        // One block per outer iteration (blockCols is a multiple of L or the whole row), so no
        // vector lives across blocks or past the loops: nothing is boxed.
        int blocks = (n + blockCols - 1) / blockCols;
        int i = 0;
        for (int j = 0; j < blocks; j++) {
            int end = Math.min(n, (j + 1) * blockCols);
            float m = blockMul[bmOff + j];
            if (next != null) {
                IntVector acc = IntVector.zero(I);
                for (; i + L <= end; i += L) {
                    acc = acc.max(FloatVector.fromArray(F, next, nextOff + i).reinterpretAsInts().and(0x7FFFFFFF));
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);

                    IntVector c0 = IntVector.zero(I);
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 2.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -2.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 3.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -3.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -5f).cast(I));
                    c0 = c0.lanewise(VectorOperators.OR, 8, y0.compare(VectorOperators.LT, -0.25f).cast(I));
                    c0 = c0.blend(7, y0.test(VectorOperators.IS_NAN).cast(I));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
                int a = acc.reduceLanes(VectorOperators.MAX);
                for (int t = i; t < end; t++) {
                    a = Math.max(a, Float.floatToRawIntBits(next[nextOff + t]) & 0x7FFFFFFF);
                }
                nextAmax[naOff + j] = a > 0x7F800000 ? Float.NaN : Float.intBitsToFloat(a);
            } else {
                for (; i + L <= end; i += L) {
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);

                    IntVector c0 = IntVector.zero(I);
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 2.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -2.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 3.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -3.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -5f).cast(I));
                    c0 = c0.lanewise(VectorOperators.OR, 8, y0.compare(VectorOperators.LT, -0.25f).cast(I));
                    c0 = c0.blend(7, y0.test(VectorOperators.IS_NAN).cast(I));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
            }
            if (i < end) {
                encodeScalarConstant(x, xOff + i, end - i, m, rounding, dst, index + i);
                i = end;
            }
        }
    }

    private static void encodeBlocksStochasticVector(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff,
            Rounding rounding, byte[] dst, int index, float[] next, int nextOff, float[] nextAmax, int naOff) {
        int k0 = rounding.key0();
        int k1 = rounding.key1();
        IntVector iota = IntVector.fromArray(I, IOTA, 0);
        // One block per outer iteration (blockCols is a multiple of L or the whole row), so no
        // vector lives across blocks or past the loops: nothing is boxed.
        int blocks = (n + blockCols - 1) / blockCols;
        int i = 0;
        for (int j = 0; j < blocks; j++) {
            int end = Math.min(n, (j + 1) * blockCols);
            float m = blockMul[bmOff + j];
            if (next != null) {
                IntVector acc = IntVector.zero(I);
                for (; i + L <= end; i += L) {
                    acc = acc.max(FloatVector.fromArray(F, next, nextOff + i).reinterpretAsInts().and(0x7FFFFFFF));
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);
                    IntVector idx0 = iota.add(index + i);
                    IntVector hc0 = idx0.mul(0x9E3779B9).lanewise(VectorOperators.XOR, k0);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).lanewise(VectorOperators.XOR, k1);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16));
                    FloatVector uc0 = ((FloatVector) hc0.lanewise(VectorOperators.LSHR, 8).convert(VectorOperators.I2F, 0)).mul(0x1p-24f);
                    FloatVector ac0 = y0.abs();
                    ac0 = ac0.blend(Float.POSITIVE_INFINITY, ac0.test(VectorOperators.IS_NAN));
                    IntVector c0 = y0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 28).and(8);
                    FloatVector loc0 = FloatVector.zero(F);
                    FloatVector invc0 = FloatVector.broadcast(F, 2f);
                    VectorMask<Float> gc0;
                    gc0 = ac0.compare(VectorOperators.GE, 0.5f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(0.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 1f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(1f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 1.5f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(1.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 2f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(2f, gc0);
                    invc0 = invc0.blend(1f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 3f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(3f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 4f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(4f, gc0);
                    invc0 = invc0.blend(0.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 6f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(6f, gc0);
                    invc0 = invc0.blend(0f, gc0);
                    c0 = c0.add(1, uc0.compare(VectorOperators.LT, ac0.sub(loc0).mul(invc0)).cast(I));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
                int a = acc.reduceLanes(VectorOperators.MAX);
                for (int t = i; t < end; t++) {
                    a = Math.max(a, Float.floatToRawIntBits(next[nextOff + t]) & 0x7FFFFFFF);
                }
                nextAmax[naOff + j] = a > 0x7F800000 ? Float.NaN : Float.intBitsToFloat(a);
            } else {
                for (; i + L <= end; i += L) {
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);
                    IntVector idx0 = iota.add(index + i);
                    IntVector hc0 = idx0.mul(0x9E3779B9).lanewise(VectorOperators.XOR, k0);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).lanewise(VectorOperators.XOR, k1);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16));
                    FloatVector uc0 = ((FloatVector) hc0.lanewise(VectorOperators.LSHR, 8).convert(VectorOperators.I2F, 0)).mul(0x1p-24f);
                    FloatVector ac0 = y0.abs();
                    ac0 = ac0.blend(Float.POSITIVE_INFINITY, ac0.test(VectorOperators.IS_NAN));
                    IntVector c0 = y0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 28).and(8);
                    FloatVector loc0 = FloatVector.zero(F);
                    FloatVector invc0 = FloatVector.broadcast(F, 2f);
                    VectorMask<Float> gc0;
                    gc0 = ac0.compare(VectorOperators.GE, 0.5f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(0.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 1f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(1f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 1.5f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(1.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 2f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(2f, gc0);
                    invc0 = invc0.blend(1f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 3f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(3f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 4f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(4f, gc0);
                    invc0 = invc0.blend(0.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 6f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(6f, gc0);
                    invc0 = invc0.blend(0f, gc0);
                    c0 = c0.add(1, uc0.compare(VectorOperators.LT, ac0.sub(loc0).mul(invc0)).cast(I));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
            }
            if (i < end) {
                encodeScalarConstant(x, xOff + i, end - i, m, rounding, dst, index + i);
                i = end;
            }
        }
    }
}
