package dev.fp4.nn;

import dev.fp4.core.simd.Simd;

/**
 * Element-wise and reduction kernels shared by the layers, each a Vector API kernel beside a scalar
 * twin that returns the same bits.
 *
 * <p><b>Reductions in a canonical order.</b> A floating-point sum depends on its order, and
 * {@code reduceLanes(ADD)} leaves the order unspecified. Every reduction here therefore keeps 16
 * partial sums, partial {@code j} collecting the elements whose index ≡ j (mod 16) in increasing
 * index order (with one fused multiply-add per element), adds the 16 partials in order 0..15, then
 * adds the tail (the last {@code n mod 16} elements) in order. A 512-bit kernel keeps the 16
 * partials in one vector, a 256-bit kernel in two, a 128-bit kernel in four, and the scalar twin in
 * an array: the result is the same at every width.
 *
 * <p><b>exp.</b> {@link #exp(float)} is Cephes' {@code expf} (range reduction by ln 2 in two parts,
 * a degree-5 polynomial, scaling by 2^n through the exponent bits) written with fused
 * multiply-adds only, so the vector kernels that inline the same steps return the same bits.
 * Relative error about 2 ulp on [-87, 88]; inputs below -87 return 0 (the true value is below
 * 1.7e-38), inputs above 88 return exp(88).
 */
public final class VectorOps {

    /** Number of partial sums of the canonical reduction order. */
    public static final int PARTIALS = 16;

    static final float EXP_LO = -87f;
    static final float EXP_HI = 88f;
    static final float LOG2E = 1.44269504088896341f;
    static final float MAGIC = 12582912f; // 1.5 * 2^23: adding and subtracting rounds to an integer
    static final float LN2_HI = 0.693359375f;
    static final float LN2_LO = -2.12194440e-4f;
    static final float P0 = 1.9875691500E-4f;
    static final float P1 = 1.3981999507E-3f;
    static final float P2 = 8.3334519073E-3f;
    static final float P3 = 4.1665795894E-2f;
    static final float P4 = 1.6666665459E-1f;
    static final float P5 = 5.0000001201E-1f;

    private VectorOps() {
    }

    /** e^x, reproducible bit for bit by the vector kernels (see the class comment). */
    public static float exp(float x) {
        if (x < EXP_LO) {
            return 0f;
        }
        x = Math.min(x, EXP_HI);
        float n = Math.fma(x, LOG2E, MAGIC) - MAGIC;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(P0, r, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = Math.fma(p, r * r, r + 1f);
        return y * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    /** dst[i] = exp((src[i] − shift)·scale) for i in [0, n), with {@link #exp(float)}'s bits. */
    public static void expAffine(float[] src, int srcOff, float[] dst, int dstOff, int n, float shift, float scale) {
        if (Simd.ENABLED) {
            VectorOpsPanama.expAffineVector(src, srcOff, dst, dstOff, n, shift, scale);
        } else {
            expAffineScalar(src, srcOff, dst, dstOff, n, shift, scale);
        }
    }

    static void expAffineScalar(float[] src, int srcOff, float[] dst, int dstOff, int n, float shift, float scale) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = exp((src[srcOff + i] - shift) * scale);
        }
    }

    /** Σ x[i] over [0, n) in the canonical order. */
    public static float sum(float[] x, int off, int n) {
        return Simd.ENABLED ? VectorOpsPanama.sumVector(x, off, n) : sumScalar(x, off, n);
    }

    static float sumScalar(float[] x, int off, int n) {
        float p0 = 0f, p1 = 0f, p2 = 0f, p3 = 0f, p4 = 0f, p5 = 0f, p6 = 0f, p7 = 0f;
        float p8 = 0f, p9 = 0f, p10 = 0f, p11 = 0f, p12 = 0f, p13 = 0f, p14 = 0f, p15 = 0f;
        int bound = n - n % PARTIALS;
        for (int i = 0; i < bound; i += PARTIALS) {
            int j = off + i;
            p0 += x[j]; p1 += x[j + 1]; p2 += x[j + 2]; p3 += x[j + 3];
            p4 += x[j + 4]; p5 += x[j + 5]; p6 += x[j + 6]; p7 += x[j + 7];
            p8 += x[j + 8]; p9 += x[j + 9]; p10 += x[j + 10]; p11 += x[j + 11];
            p12 += x[j + 12]; p13 += x[j + 13]; p14 += x[j + 14]; p15 += x[j + 15];
        }
        float s = 0f;
        s += p0; s += p1; s += p2; s += p3; s += p4; s += p5; s += p6; s += p7;
        s += p8; s += p9; s += p10; s += p11; s += p12; s += p13; s += p14; s += p15;
        for (int i = bound; i < n; i++) {
            s += x[off + i];
        }
        return s;
    }

    /** Largest element of x[off, off + n), n ≥ 1 (NaN if any element is NaN, as Math.max). */
    public static float max(float[] x, int off, int n) {
        return Simd.ENABLED ? VectorOpsPanama.maxVector(x, off, n) : maxScalar(x, off, n);
    }

    static float maxScalar(float[] x, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, x[off + i]);
        }
        return m;
    }

    /** x[i] *= a for i in [0, n). */
    public static void scale(float[] x, int off, int n, float a) {
        int i = Simd.ENABLED ? VectorOpsPanama.scaleVector(x, off, n, a) : 0;
        for (; i < n; i++) {
            x[off + i] *= a;
        }
    }

    /** out[i] = a[i] + b[i] for i in [0, n); {@code out} may alias {@code a} or {@code b}. */
    public static void add(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        if (Simd.ENABLED) {
            VectorOpsPanama.addVector(a, aOff, b, bOff, out, outOff, n);
        } else {
            addScalar(a, aOff, b, bOff, out, outOff, n);
        }
    }

    /** Elements per task of the parallel element-wise loops. */
    static final int CHUNK = 1 << 14;

    /** {@link #add} split over the shared threads in chunks (element-wise, so the split changes nothing). */
    public static void addParallel(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        new ParallelAdd().run(a, aOff, b, bOff, out, outOff, n);
    }

    /**
     * {@link #addParallel} with its loop body bound once: a caller that keeps one allocates nothing
     * per call. Not for concurrent use.
     */
    static final class ParallelAdd implements java.util.function.IntConsumer {
        private float[] a;
        private int aOff;
        private float[] b;
        private int bOff;
        private float[] out;
        private int outOff;
        private int n;

        void run(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
            this.a = a;
            this.aOff = aOff;
            this.b = b;
            this.bOff = bOff;
            this.out = out;
            this.outOff = outOff;
            this.n = n;
            Parallel.forEach((n + CHUNK - 1) / CHUNK, this);
        }

        /** Chunk c. */
        @Override
        public void accept(int c) {
            int i = c * CHUNK;
            add(a, aOff + i, b, bOff + i, out, outOff + i, Math.min(CHUNK, n - i));
        }
    }

    static void addScalar(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) {
            out[outOff + i] = a[aOff + i] + b[bOff + i];
        }
    }

    /** Σ x[i]² over [0, n) in the canonical order. */
    public static float sumSquares(float[] x, int off, int n) {
        return Simd.ENABLED ? VectorOpsPanama.dotVector(x, off, x, off, n) : dotScalar(x, off, x, off, n);
    }

    /** Σ a[i]·b[i] over [0, n) in the canonical order. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return Simd.ENABLED ? VectorOpsPanama.dotVector(a, aOff, b, bOff, n) : dotScalar(a, aOff, b, bOff, n);
    }

    static float dotScalar(float[] a, int aOff, float[] b, int bOff, int n) {
        float p0 = 0f, p1 = 0f, p2 = 0f, p3 = 0f, p4 = 0f, p5 = 0f, p6 = 0f, p7 = 0f;
        float p8 = 0f, p9 = 0f, p10 = 0f, p11 = 0f, p12 = 0f, p13 = 0f, p14 = 0f, p15 = 0f;
        int bound = n - n % PARTIALS;
        for (int i = 0; i < bound; i += PARTIALS) {
            int ai = aOff + i;
            int bi = bOff + i;
            p0 = Math.fma(a[ai], b[bi], p0);
            p1 = Math.fma(a[ai + 1], b[bi + 1], p1);
            p2 = Math.fma(a[ai + 2], b[bi + 2], p2);
            p3 = Math.fma(a[ai + 3], b[bi + 3], p3);
            p4 = Math.fma(a[ai + 4], b[bi + 4], p4);
            p5 = Math.fma(a[ai + 5], b[bi + 5], p5);
            p6 = Math.fma(a[ai + 6], b[bi + 6], p6);
            p7 = Math.fma(a[ai + 7], b[bi + 7], p7);
            p8 = Math.fma(a[ai + 8], b[bi + 8], p8);
            p9 = Math.fma(a[ai + 9], b[bi + 9], p9);
            p10 = Math.fma(a[ai + 10], b[bi + 10], p10);
            p11 = Math.fma(a[ai + 11], b[bi + 11], p11);
            p12 = Math.fma(a[ai + 12], b[bi + 12], p12);
            p13 = Math.fma(a[ai + 13], b[bi + 13], p13);
            p14 = Math.fma(a[ai + 14], b[bi + 14], p14);
            p15 = Math.fma(a[ai + 15], b[bi + 15], p15);
        }
        float s = 0f;
        s += p0; s += p1; s += p2; s += p3; s += p4; s += p5; s += p6; s += p7;
        s += p8; s += p9; s += p10; s += p11; s += p12; s += p13; s += p14; s += p15;
        for (int i = bound; i < n; i++) {
            s = Math.fma(a[aOff + i], b[bOff + i], s);
        }
        return s;
    }
    /**
     * Σ (a[i]·b[i])·c[i] over [0, n) in the canonical order: the scalar twin of the reductions that
     * vector kernels inline (product a·b rounded, then one fused multiply-add with c).
     */
    static float dot3Scalar(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff, int n) {
        float p0 = 0f, p1 = 0f, p2 = 0f, p3 = 0f, p4 = 0f, p5 = 0f, p6 = 0f, p7 = 0f;
        float p8 = 0f, p9 = 0f, p10 = 0f, p11 = 0f, p12 = 0f, p13 = 0f, p14 = 0f, p15 = 0f;
        int bound = n - n % PARTIALS;
        for (int i = 0; i < bound; i += PARTIALS) {
            int ai = aOff + i;
            int bi = bOff + i;
            int ci = cOff + i;
            p0 = Math.fma(a[ai] * b[bi], c[ci], p0);
            p1 = Math.fma(a[ai + 1] * b[bi + 1], c[ci + 1], p1);
            p2 = Math.fma(a[ai + 2] * b[bi + 2], c[ci + 2], p2);
            p3 = Math.fma(a[ai + 3] * b[bi + 3], c[ci + 3], p3);
            p4 = Math.fma(a[ai + 4] * b[bi + 4], c[ci + 4], p4);
            p5 = Math.fma(a[ai + 5] * b[bi + 5], c[ci + 5], p5);
            p6 = Math.fma(a[ai + 6] * b[bi + 6], c[ci + 6], p6);
            p7 = Math.fma(a[ai + 7] * b[bi + 7], c[ci + 7], p7);
            p8 = Math.fma(a[ai + 8] * b[bi + 8], c[ci + 8], p8);
            p9 = Math.fma(a[ai + 9] * b[bi + 9], c[ci + 9], p9);
            p10 = Math.fma(a[ai + 10] * b[bi + 10], c[ci + 10], p10);
            p11 = Math.fma(a[ai + 11] * b[bi + 11], c[ci + 11], p11);
            p12 = Math.fma(a[ai + 12] * b[bi + 12], c[ci + 12], p12);
            p13 = Math.fma(a[ai + 13] * b[bi + 13], c[ci + 13], p13);
            p14 = Math.fma(a[ai + 14] * b[bi + 14], c[ci + 14], p14);
            p15 = Math.fma(a[ai + 15] * b[bi + 15], c[ci + 15], p15);
        }
        float s = 0f;
        s += p0; s += p1; s += p2; s += p3; s += p4; s += p5; s += p6; s += p7;
        s += p8; s += p9; s += p10; s += p11; s += p12; s += p13; s += p14; s += p15;
        for (int i = bound; i < n; i++) {
            s = Math.fma(a[aOff + i] * b[bOff + i], c[cOff + i], s);
        }
        return s;
    }
}
