package dev.fp4.core.quant;

import dev.fp4.core.simd.Simd;
import java.util.Objects;

/**
 * The random Hadamard transform of NVIDIA's NVFP4 recipe (size 16) and of Quartet (size 32): an
 * orthonormal rotation applied to each consecutive group of {@code size} elements along the rows of
 * a GeMM operand before quantization, spreading outliers across the group.
 *
 * <p>M = H·diag(s) with H = H_size/√size the normalised Sylvester Hadamard matrix
 * (H[i][j] = (−1)^popcount(i AND j)/√size; H_2k = [[H_k, H_k], [H_k, −H_k]]) and s a random ±1
 * vector fixed by the seed. {@link #forward} replaces each group x by M·x, {@link #inverse} by
 * Mᵀ·x = diag(s)·H·x. Because MᵀM = I, transforming both operands of a GeMM along the reduction
 * dimension leaves the product unchanged: (X·Mᵀ)(W·Mᵀ)ᵀ = X·Wᵀ (up to rounding).
 *
 * <p>Arithmetic (identical in the vector kernel and its scalar twin): multiply by the signs (exact),
 * the fast Walsh-Hadamard butterflies y = a + b, z = a − b with strides 1, 2, 4, …, size/2 in that
 * order, then multiply by the FP32 value of 1/√size (exact when size is a power of 4: 1/2, 1/4,
 * 1/8, 1/16; the nearest float otherwise); the inverse does the butterflies, the normalisation, then
 * the signs. Each output is thus within log2(size)+1 roundings of the exact rotation:
 * ‖fl(M·x) − M·x‖₂ ≤ (log2(size) + 1)·2⁻²⁴·‖x‖₂ to first order. Non-finite inputs are not rejected;
 * they spread to their group (a subsequent quantizer rejects them).
 *
 * <p>Signs from the seed: the i-th sign is negative when the i-th output of SplitMix64 started at
 * the seed (state += 0x9E3779B97F4A7C15, then the standard mix) has its top bit set — deterministic
 * on every JVM. Immutable and thread-safe.
 */
public final class RandomHadamard {

    /** NVIDIA's NVFP4 recipe's size. */
    public static final int DEFAULT_SIZE = 16;

    /** The largest supported size. */
    public static final int MAX_SIZE = 256;

    private final int size;
    private final float[] signs;
    /** The signs repeated to max(size, VL) elements, for kernels whose vectors span several groups. */
    private final float[] tiled;
    private final float norm;

    /** Size 16 with signs from {@code seed}. */
    public RandomHadamard(long seed) {
        this(DEFAULT_SIZE, seed);
    }

    /**
     * @param size a power of two in [2, 256] (16: NVFP4; 32: Quartet)
     * @param seed fixes the sign vector
     */
    public RandomHadamard(int size, long seed) {
        this(checkSize(size), signsFromSeed(size, seed));
    }

    private RandomHadamard(int size, float[] signs) {
        this.size = size;
        this.signs = signs;
        this.norm = (float) (1.0 / Math.sqrt(size));
        int t = Math.max(size, Simd.FLOAT_LANES);
        this.tiled = new float[t];
        for (int i = 0; i < t; i++) {
            tiled[i] = signs[i % size];
        }
    }

    /**
     * A transform with a given sign vector (to reproduce another implementation's fixed signs).
     *
     * @param signs each +1 or −1; its length (a power of two in [2, 256]) is the size
     */
    public static RandomHadamard withSigns(float[] signs) {
        Objects.requireNonNull(signs, "signs");
        checkSize(signs.length);
        for (int i = 0; i < signs.length; i++) {
            if (signs[i] != 1f && signs[i] != -1f) {
                throw new IllegalArgumentException("signs[" + i + "] = " + signs[i] + "; each sign must be +1 or -1");
            }
        }
        return new RandomHadamard(signs.length, signs.clone());
    }

    private static int checkSize(int size) {
        if (size < 2 || size > MAX_SIZE || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("Hadamard size must be a power of two in [2, " + MAX_SIZE
                    + "], got " + size);
        }
        return size;
    }

    private static float[] signsFromSeed(int size, long seed) {
        float[] s = new float[size];
        long state = seed;
        for (int i = 0; i < size; i++) {
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            s[i] = z < 0 ? -1f : 1f;
        }
        return s;
    }

    /** The group size. */
    public int size() {
        return size;
    }

    /** A copy of the sign vector (each ±1). */
    public float[] signs() {
        return signs.clone();
    }

    /** The FP32 normalisation 1/√size. */
    public float normalization() {
        return norm;
    }

    /**
     * In place: each group of {@code size} consecutive elements of each row of the row-major
     * [rows, cols] matrix at {@code x[off]} becomes M·group.
     *
     * @throws IllegalArgumentException if cols is not a multiple of the size or the array is short
     */
    public void forward(float[] x, int off, int rows, int cols) {
        int len = check(x, off, rows, cols);
        if (Simd.ENABLED) {
            RandomHadamardPanama.transformVector(x, off, len, size, tiled, norm, false);
        } else {
            transformScalar(x, off, len, size, signs, norm, false);
        }
    }

    /** In place: each group becomes Mᵀ·group, undoing {@link #forward} (up to rounding). */
    public void inverse(float[] x, int off, int rows, int cols) {
        int len = check(x, off, rows, cols);
        if (Simd.ENABLED) {
            RandomHadamardPanama.transformVector(x, off, len, size, tiled, norm, true);
        } else {
            transformScalar(x, off, len, size, signs, norm, true);
        }
    }

    private int check(float[] x, int off, int rows, int cols) {
        Objects.requireNonNull(x, "x");
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        }
        if (cols % size != 0) {
            throw new IllegalArgumentException("cols = " + cols + " is not a multiple of the Hadamard size "
                    + size + " (the transform works on whole groups of " + size + " along each row)");
        }
        long len = (long) rows * cols;
        if (off < 0 || off + len > x.length) {
            throw new IllegalArgumentException("x [" + rows + ", " + cols + "] at offset " + off + " needs " + len
                    + " elements but the array has " + x.length);
        }
        return (int) len;
    }

    // ---- kernels ---------------------------------------------------------------------------------

    /**
     * Scalar reference: transforms the len/size consecutive groups of x[off, off+len).
     *
     * @param signs the sign vector (length ≥ size; the first size entries are used)
     */
    static void transformScalar(float[] x, int off, int len, int size, float[] signs, float norm, boolean inverse) {
        for (int g = off; g < off + len; g += size) {
            transformGroupScalar(x, g, size, signs, norm, inverse);
        }
    }

    static void transformGroupScalar(float[] x, int g, int size, float[] signs, float norm, boolean inverse) {
        if (!inverse) {
            for (int i = 0; i < size; i++) {
                x[g + i] *= signs[i];
            }
        }
        for (int h = 1; h < size; h <<= 1) {
            for (int b = g; b < g + size; b += 2 * h) {
                for (int i = b; i < b + h; i++) {
                    float a = x[i];
                    float c = x[i + h];
                    x[i] = a + c;
                    x[i + h] = a - c;
                }
            }
        }
        for (int i = 0; i < size; i++) {
            float y = x[g + i] * norm;
            x[g + i] = inverse ? y * signs[i] : y;
        }
    }

    @Override
    public String toString() {
        return "RandomHadamard(size=" + size + ")";
    }
}
