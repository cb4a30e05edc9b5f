package dev.fp4.core.quant;

import dev.fp4.core.simd.Simd;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

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

    private static final VectorSpecies<Float> F = Simd.FLOAT;
    private static final int VL = F.length();
    private static final VectorShuffle<Float> SH1 = shuffle(1);
    private static final VectorShuffle<Float> SH2 = shuffle(2);
    private static final VectorShuffle<Float> SH4 = shuffle(4);
    private static final VectorShuffle<Float> SH8 = shuffle(8);
    private static final VectorMask<Float> M1 = upperHalves(1);
    private static final VectorMask<Float> M2 = upperHalves(2);
    private static final VectorMask<Float> M4 = upperHalves(4);
    private static final VectorMask<Float> M8 = upperHalves(8);

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
        int t = Math.max(size, VL);
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
            transformVector(x, off, len, size, tiled, norm, false);
        } else {
            transformScalar(x, off, len, size, signs, norm, false);
        }
    }

    /** In place: each group becomes Mᵀ·group, undoing {@link #forward} (up to rounding). */
    public void inverse(float[] x, int off, int rows, int cols) {
        int len = check(x, off, rows, cols);
        if (Simd.ENABLED) {
            transformVector(x, off, len, size, tiled, norm, true);
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

    private static void transformGroupScalar(float[] x, int g, int size, float[] signs, float norm, boolean inverse) {
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

    /**
     * Vector kernel, bit for bit equal to {@link #transformScalar}: butterflies of stride below the
     * vector length run inside a register (a lane permutation i ↔ i XOR h, then p + (±v): for the
     * lower lane p + v = b + a, for the upper p − v = a − b, the scalar operations exactly), wider
     * ones between registers.
     *
     * @param tiled the signs repeated to max(size, VL) elements
     */
    static void transformVector(float[] x, int off, int len, int size, float[] tiled, float norm, boolean inverse) {
        int inReg = Math.min(size, VL); // strides below this run inside a register
        if (size >= VL) {
            for (int g = off; g < off + len; g += size) {
                for (int c = 0; c < size; c += VL) {
                    FloatVector v = FloatVector.fromArray(F, x, g + c);
                    if (!inverse) {
                        v = v.mul(FloatVector.fromArray(F, tiled, c));
                    }
                    if (inReg > 1) {
                        v = v.rearrange(SH1).add(v.lanewise(VectorOperators.NEG, M1));
                    }
                    if (inReg > 2) {
                        v = v.rearrange(SH2).add(v.lanewise(VectorOperators.NEG, M2));
                    }
                    if (inReg > 4) {
                        v = v.rearrange(SH4).add(v.lanewise(VectorOperators.NEG, M4));
                    }
                    if (inReg > 8) {
                        v = v.rearrange(SH8).add(v.lanewise(VectorOperators.NEG, M8));
                    }
                    if (size == VL) {
                        v = v.mul(norm);
                        if (inverse) {
                            v = v.mul(FloatVector.fromArray(F, tiled, c));
                        }
                    }
                    v.intoArray(x, g + c);
                }
                for (int h = VL; h < size; h <<= 1) {
                    boolean last = 2 * h == size;
                    for (int b = 0; b < size; b += 2 * h) {
                        for (int i = b; i < b + h; i += VL) {
                            FloatVector a = FloatVector.fromArray(F, x, g + i);
                            FloatVector c = FloatVector.fromArray(F, x, g + i + h);
                            FloatVector sum = a.add(c);
                            FloatVector diff = a.sub(c);
                            if (last) {
                                sum = sum.mul(norm);
                                diff = diff.mul(norm);
                                if (inverse) {
                                    sum = sum.mul(FloatVector.fromArray(F, tiled, i));
                                    diff = diff.mul(FloatVector.fromArray(F, tiled, i + h));
                                }
                            }
                            sum.intoArray(x, g + i);
                            diff.intoArray(x, g + i + h);
                        }
                    }
                }
            }
            return;
        }
        // size < VL: each vector holds VL/size whole groups (len is a multiple of size).
        FloatVector s = FloatVector.fromArray(F, tiled, 0);
        int bound = F.loopBound(len);
        int i = 0;
        for (; i < bound; i += VL) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            if (!inverse) {
                v = v.mul(s);
            }
            if (inReg > 1) {
                v = v.rearrange(SH1).add(v.lanewise(VectorOperators.NEG, M1));
            }
            if (inReg > 2) {
                v = v.rearrange(SH2).add(v.lanewise(VectorOperators.NEG, M2));
            }
            if (inReg > 4) {
                v = v.rearrange(SH4).add(v.lanewise(VectorOperators.NEG, M4));
            }
            v = v.mul(norm);
            if (inverse) {
                v = v.mul(s);
            }
            v.intoArray(x, off + i);
        }
        for (int g = off + i; g < off + len; g += size) {
            transformGroupScalar(x, g, size, tiled, norm, inverse);
        }
    }

    private static VectorShuffle<Float> shuffle(int h) {
        return h < VL ? VectorShuffle.fromOp(F, i -> i ^ h) : null;
    }

    /** Lanes whose index has bit h set (the "a − b" lanes of a stride-h butterfly). */
    private static VectorMask<Float> upperHalves(int h) {
        long bits = 0;
        for (int i = 0; i < VL; i++) {
            if ((i & h) != 0) {
                bits |= 1L << i;
            }
        }
        return VectorMask.fromLong(F, bits);
    }

    @Override
    public String toString() {
        return "RandomHadamard(size=" + size + ")";
    }
}
