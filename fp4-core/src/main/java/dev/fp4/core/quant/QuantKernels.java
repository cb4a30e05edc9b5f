package dev.fp4.core.quant;

import dev.fp4.core.format.E2M1;
import dev.fp4.core.simd.Simd;
import java.util.Objects;

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
        return QuantKernelsPanama.absMaxVector(x, off, n);
    }

    /** Scalar twin of {@link #absMax}. */
    static float absMaxScalar(float[] x, int off, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        float m = 0f;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, Math.abs(x[off + i]));
        }
        return m != m ? Float.NaN : m;
    }

    /** acc[accOff+i] = max(acc[accOff+i], |x[off+i]|) for i &lt; n (NaN propagates as in Math.max). */
    static void absMaxInto(float[] x, int off, float[] acc, int accOff, int n) {
        if (!Simd.ENABLED) {
            absMaxIntoScalar(x, off, acc, accOff, n);
            return;
        }
        Objects.checkFromIndexSize(off, n, x.length);
        Objects.checkFromIndexSize(accOff, n, acc.length);
        QuantKernelsPanama.absMaxIntoVector(x, off, acc, accOff, n);
    }

    /** Scalar twin of {@link #absMaxInto}. */
    static void absMaxIntoScalar(float[] x, int off, float[] acc, int accOff, int n) {
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
    static void encode(float[] x, int xOff, float[] mul, int mulOff, int n, Rounding rounding,
            byte[] dst, int index) {
        if (!Simd.ENABLED) {
            encodeScalar(x, xOff, mul, mulOff, n, rounding, dst, index);
            return;
        }
        checkEncode(x, xOff, mul, mulOff, n, dst, index);
        switch (rounding.mode()) {
            case NEAREST_EVEN -> QuantKernelsPanama.encodeRneVector(x, xOff, mul, mulOff, n, rounding, dst, index);
            case HALF_UP -> QuantKernelsPanama.encodeHalfUpVector(x, xOff, mul, mulOff, n, rounding, dst, index);
            case STOCHASTIC -> QuantKernelsPanama.encodeStochasticVector(x, xOff, mul, mulOff, n, rounding, dst, index);
        }
    }

    /** Scalar twin of {@link #encode}. */
    static void encodeScalar(float[] x, int xOff, float[] mul, int mulOff, int n, Rounding rounding,
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
    static void encodeBlocks(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff,
            Rounding rounding, byte[] dst, int index, float[] next, int nextOff, float[] nextAmax, int naOff) {
        int blocks = checkBlocks(x, xOff, n, blockCols, blockMul, bmOff, dst, index, next, nextOff, nextAmax, naOff);
        if (!Simd.ENABLED || !blocksVectorized(index, n, blockCols) || blocks == 0) {
            encodeBlocksScalar(x, xOff, n, blockCols, blockMul, bmOff, rounding, dst, index, next, nextOff, nextAmax,
                    naOff);
            return;
        }
        int bc = Math.min(blockCols, n);
        switch (rounding.mode()) {
            case NEAREST_EVEN -> QuantKernelsPanama.encodeBlocksRneVector(x, xOff, n, bc, blockMul, bmOff, rounding, dst, index, next,
                    nextOff, nextAmax, naOff);
            case HALF_UP -> QuantKernelsPanama.encodeBlocksHalfUpVector(x, xOff, n, bc, blockMul, bmOff, rounding, dst, index, next,
                    nextOff, nextAmax, naOff);
            case STOCHASTIC -> QuantKernelsPanama.encodeBlocksStochasticVector(x, xOff, n, bc, blockMul, bmOff, rounding, dst, index,
                    next, nextOff, nextAmax, naOff);
        }
    }

    /**
     * {@code true} when {@link #encodeBlocks} runs vectorized for these arguments: the row starts
     * on a byte (even nibble index) and every vector lies inside one block (one block, or blocks a
     * multiple of the vector length). Otherwise it runs its scalar twin.
     */
    static boolean blocksVectorized(int index, int n, int blockCols) {
        return Simd.ENABLED && (index & 1) == 0 && (blockCols >= n || blockCols % Simd.FLOAT_LANES == 0);
    }

    /** Scalar twin of {@link #encodeBlocks}. */
    static void encodeBlocksScalar(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff,
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
    static void encodeScalarConstant(float[] x, int xOff, int n, float m, Rounding rounding, byte[] dst,
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
    static void decode(byte[] src, int index, int n, float[] dst, int dstOff) {
        if (!Simd.ENABLED) {
            decodeScalar(src, index, n, dst, dstOff);
            return;
        }
        checkDecode(src, index, n, dst, dstOff);
        QuantKernelsPanama.decodeVector(src, index, n, dst, dstOff);
    }

    /** Scalar twin of {@link #decode}. */
    static void decodeScalar(byte[] src, int index, int n, float[] dst, int dstOff) {
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
    static void scale(float[] x, int off, int n, float s) {
        if (!Simd.ENABLED) {
            scaleScalar(x, off, n, s);
            return;
        }
        Objects.checkFromIndexSize(off, n, x.length);
        QuantKernelsPanama.scaleVector(x, off, n, s);
    }

    /** Scalar twin of {@link #scale}. */
    static void scaleScalar(float[] x, int off, int n, float s) {
        Objects.checkFromIndexSize(off, n, x.length);
        for (int i = 0; i < n; i++) {
            x[off + i] *= s;
        }
    }

    /** x[off+i] *= s[sOff+i] for i &lt; n. */
    static void multiply(float[] x, int off, float[] s, int sOff, int n) {
        if (!Simd.ENABLED) {
            multiplyScalar(x, off, s, sOff, n);
            return;
        }
        Objects.checkFromIndexSize(off, n, x.length);
        Objects.checkFromIndexSize(sOff, n, s.length);
        QuantKernelsPanama.multiplyVector(x, off, s, sOff, n);
    }

    /** Scalar twin of {@link #multiply}. */
    static void multiplyScalar(float[] x, int off, float[] s, int sOff, int n) {
        Objects.checkFromIndexSize(off, n, x.length);
        Objects.checkFromIndexSize(sOff, n, s.length);
        for (int i = 0; i < n; i++) {
            x[off + i] *= s[sOff + i];
        }
    }

    // ---------------------------------------------------------------- fake quantization

    /**
     * Four Over Six's squared errors of one candidate block scale, element by element (Transformer
     * Engine's reference arithmetic): err[i] = d·d with d = fl(fl(fl(q·s)·amaxT)/denom) − x[i] and
     * q = E2M1_RNE(clamp(fl(x[i]·m), ±6)). The block's error is their sum in element order, which
     * the caller forms. fl(q·s)·amaxT is {@link #fakeQuantize} with multipliers m and scales s
     * (its saturating code is the clamp), so the vector path is that kernel's; the division and the
     * square follow per element. x holds no NaN (Four Over Six rejects non-finite tensors first).
     *
     * @param m n copies of the candidate's multiplier (from mOff)
     * @param s n copies of the candidate's scale (from sOff)
     */
    static void fourOverSixSquaredErrors(float[] x, int off, int n, float[] m, int mOff, float[] s, int sOff,
            float amaxT, float denom, float[] err, int errOff) {
        System.arraycopy(x, off, err, errOff, n);
        fakeQuantize(err, errOff, m, mOff, s, sOff, n, amaxT, Rounding.RNE, 0);
        for (int i = 0; i < n; i++) {
            float d = err[errOff + i] / denom - x[off + i];
            err[errOff + i] = d * d;
        }
    }

    /** Scalar twin of {@link #fourOverSixSquaredErrors}. */
    static void fourOverSixSquaredErrorsScalar(float[] x, int off, int n, float m, float s, float amaxT, float denom,
            float[] err, int errOff) {
        for (int i = 0; i < n; i++) {
            float v = x[off + i];
            float y = Math.max(-6f, Math.min(6f, v * m));
            float q = E2M1.decode(E2M1.encode(y));
            float d = q * s * amaxT / denom - v;
            err[errOff + i] = d * d;
        }
    }

    /**
     * In place: x[off+i] = (E2M1(fl(x·mul[mulOff+i])) · scl[sclOff+i]) · tensorScale, the code
     * rounded as in {@link #encode} with element counter {@code index+i}.
     */
    static void fakeQuantize(float[] x, int off, float[] mul, int mulOff, float[] scl, int sclOff, int n,
            float tensorScale, Rounding rounding, int index) {
        if (!Simd.ENABLED) {
            fakeQuantizeScalar(x, off, mul, mulOff, scl, sclOff, n, tensorScale, rounding, index);
            return;
        }
        Objects.checkFromIndexSize(off, n, x.length);
        Objects.checkFromIndexSize(mulOff, n, mul.length);
        Objects.checkFromIndexSize(sclOff, n, scl.length);
        switch (rounding.mode()) {
            case NEAREST_EVEN -> QuantKernelsPanama.fakeQuantizeRneVector(x, off, mul, mulOff, scl, sclOff, n, tensorScale, rounding, index);
            case HALF_UP -> QuantKernelsPanama.fakeQuantizeHalfUpVector(x, off, mul, mulOff, scl, sclOff, n, tensorScale, rounding, index);
            case STOCHASTIC -> QuantKernelsPanama.fakeQuantizeStochasticVector(x, off, mul, mulOff, scl, sclOff, n, tensorScale, rounding,
                    index);
        }
    }

    /** Scalar twin of {@link #fakeQuantize}. */
    static void fakeQuantizeScalar(float[] x, int off, float[] mul, int mulOff, float[] scl, int sclOff,
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
}
