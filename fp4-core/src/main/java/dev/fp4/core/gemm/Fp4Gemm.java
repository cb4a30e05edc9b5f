package dev.fp4.core.gemm;

import dev.fp4.core.quant.Fp4Tensor;

/**
 * Software-emulated FP4 GeMM over {@link Fp4Tensor} operands (any scheme), with FP32 accumulation,
 * in the three layouts training needs, and mixed forms where one operand is FP32:
 *
 * <ul>
 *   <li>{@code matmulNT}: C[M,N] = Â[M,K] · B̂[N,K]ᵀ (forward: Y = Q(X)·Q(W)ᵀ)
 *   <li>{@code matmulNN}: C[M,N] = Â[M,K] · B̂[K,N] (data gradient)
 *   <li>{@code matmulTN}: C[M,N] = Â[K,M]ᵀ · B̂[K,N] (weight gradient)
 * </ul>
 *
 * where Â is the dequantized operand, x̂ = E2M1(code) · blockScale · tensorScale. C is row-major
 * [M, N] from {@code cOff}; {@code accumulate} adds into it. The operands are decoded while the
 * engine packs its panels (O(MK + KN) decodes for O(MNK) multiply-adds), nothing is allocated once
 * the per-thread buffers are warm, and the work is split over the threads of {@link Gemm#parallelFor}.
 *
 * <p>Result. Each operand contributes an outer factor per output row (left) or column (right):
 * when its scale blocks span the whole reduction dimension (per-tensor; per-row for a [·, K]
 * operand, per-column for a [K, ·] one) the factor is that scale times the tensor scale and the
 * packed values are the bare E2M1 values; otherwise the block scales are folded into the packed
 * values and the factor is the tensor scale. An FP32 operand has factor 1. Then
 *
 * <pre>  C[i,j] = (C[i,j] +) D[i,j] · (outerA[i] · outerB[j]),   D[i,j] = fma-chain over k = 0..K−1 in order</pre>
 *
 * so the result is the same bit for bit for any thread count, blocking or vector width. When both
 * operands are factored the products in D are multiples of 1/4 and D is exact while |D| ≤ 2^22
 * (N/4 with an integer |N| ≤ 2^24; E2M1 magnitudes ≤ 6, so always when K ≤ 2^22/36 ≈ 116 000); with
 * power-of-two scales (the default scale rule) the product of the factors is exact too, so C equals
 * the exact product of the dequantized operands rounded once to FP32 (before the optional addition
 * into C), barring underflow or overflow of the final scaling.
 *
 * <p>Shape mismatches throw {@link IllegalArgumentException} naming both shapes, for example
 * {@code "A is [64, 128] but B is [32, 100]: inner dimensions differ (A·Bᵀ needs A.cols == B.cols)"}.
 */
public final class Fp4Gemm {

    private Fp4Gemm() {
    }

    /**
     * C[M,N] (+)= Â·B̂ᵀ with A [M,K] and B [N,K].
     *
     * @throws IllegalArgumentException if A.cols ≠ B.cols or C cannot hold [M, N] from cOff
     */
    public static void matmulNT(Fp4Tensor a, Fp4Tensor b, float[] c, int cOff, boolean accumulate) {
        inner("A", a.rows(), a.cols(), "B", b.rows(), b.cols(), a.cols(), b.cols(), "A·Bᵀ needs A.cols == B.cols");
        GemmEngine.Call call = GemmEngine.acquire();
        try {
            call.a = call.fp4A.set(a, false);
            call.b = call.fp4B.set(b, false);
            run(call, c, cOff, a.rows(), b.rows(), a.cols(), accumulate);
        } finally {
            GemmEngine.release(call);
        }
    }

    /**
     * C[M,N] (+)= Â·Bᵀ with A an FP4 tensor [M,K] and B an FP32 row-major [n, K] from bOff.
     *
     * @throws IllegalArgumentException if B does not fit its array or C cannot hold [M, n]
     */
    public static void matmulNT(Fp4Tensor a, float[] b, int bOff, int n, float[] c, int cOff, boolean accumulate) {
        int k = a.cols();
        FloatGemm.check(b, bOff, (long) n * k, "B", n, k);
        GemmEngine.Call call = GemmEngine.acquire();
        try {
            call.a = call.fp4A.set(a, false);
            call.b = call.floatsB.set(b, bOff, k, false);
            run(call, c, cOff, a.rows(), n, k, accumulate);
        } finally {
            GemmEngine.release(call);
        }
    }

    /**
     * C[M,N] (+)= A·B̂ᵀ with A an FP32 row-major [m, K] from aOff and B an FP4 tensor [N,K].
     *
     * @throws IllegalArgumentException if A does not fit its array or C cannot hold [m, N]
     */
    public static void matmulNT(float[] a, int aOff, int m, Fp4Tensor b, float[] c, int cOff, boolean accumulate) {
        int k = b.cols();
        FloatGemm.check(a, aOff, (long) m * k, "A", m, k);
        GemmEngine.Call call = GemmEngine.acquire();
        try {
            call.a = call.floatsA.set(a, aOff, k, false);
            call.b = call.fp4B.set(b, false);
            run(call, c, cOff, m, b.rows(), k, accumulate);
        } finally {
            GemmEngine.release(call);
        }
    }

    /**
     * C[M,N] (+)= Â·B̂ with A [M,K] and B [K,N].
     *
     * @throws IllegalArgumentException if A.cols ≠ B.rows or C cannot hold [M, N] from cOff
     */
    public static void matmulNN(Fp4Tensor a, Fp4Tensor b, float[] c, int cOff, boolean accumulate) {
        inner("A", a.rows(), a.cols(), "B", b.rows(), b.cols(), a.cols(), b.rows(), "A·B needs A.cols == B.rows");
        GemmEngine.Call call = GemmEngine.acquire();
        try {
            call.a = call.fp4A.set(a, false);
            call.b = call.fp4B.set(b, true);
            run(call, c, cOff, a.rows(), b.cols(), a.cols(), accumulate);
        } finally {
            GemmEngine.release(call);
        }
    }

    /**
     * C[M,N] (+)= Â·B with A an FP4 tensor [M,K] and B an FP32 row-major [K, n] from bOff.
     *
     * @throws IllegalArgumentException if B does not fit its array or C cannot hold [M, n]
     */
    public static void matmulNN(Fp4Tensor a, float[] b, int bOff, int n, float[] c, int cOff, boolean accumulate) {
        int k = a.cols();
        FloatGemm.check(b, bOff, (long) k * n, "B", k, n);
        GemmEngine.Call call = GemmEngine.acquire();
        try {
            call.a = call.fp4A.set(a, false);
            call.b = call.floatsB.set(b, bOff, n, true);
            run(call, c, cOff, a.rows(), n, k, accumulate);
        } finally {
            GemmEngine.release(call);
        }
    }

    /**
     * C[M,N] (+)= A·B̂ with A an FP32 row-major [m, K] from aOff and B an FP4 tensor [K,N].
     *
     * @throws IllegalArgumentException if A does not fit its array or C cannot hold [m, N]
     */
    public static void matmulNN(float[] a, int aOff, int m, Fp4Tensor b, float[] c, int cOff, boolean accumulate) {
        int k = b.rows();
        FloatGemm.check(a, aOff, (long) m * k, "A", m, k);
        GemmEngine.Call call = GemmEngine.acquire();
        try {
            call.a = call.floatsA.set(a, aOff, k, false);
            call.b = call.fp4B.set(b, true);
            run(call, c, cOff, m, b.cols(), k, accumulate);
        } finally {
            GemmEngine.release(call);
        }
    }

    /**
     * C[M,N] (+)= Âᵀ·B̂ with A [K,M] and B [K,N].
     *
     * @throws IllegalArgumentException if A.rows ≠ B.rows or C cannot hold [M, N] from cOff
     */
    public static void matmulTN(Fp4Tensor a, Fp4Tensor b, float[] c, int cOff, boolean accumulate) {
        inner("A", a.rows(), a.cols(), "B", b.rows(), b.cols(), a.rows(), b.rows(), "Aᵀ·B needs A.rows == B.rows");
        GemmEngine.Call call = GemmEngine.acquire();
        try {
            call.a = call.fp4A.set(a, true);
            call.b = call.fp4B.set(b, true);
            run(call, c, cOff, a.cols(), b.cols(), a.rows(), accumulate);
        } finally {
            GemmEngine.release(call);
        }
    }

    /**
     * C[M,N] (+)= Âᵀ·B with A an FP4 tensor [K,M] and B an FP32 row-major [K, n] from bOff.
     *
     * @throws IllegalArgumentException if B does not fit its array or C cannot hold [M, n]
     */
    public static void matmulTN(Fp4Tensor a, float[] b, int bOff, int n, float[] c, int cOff, boolean accumulate) {
        int k = a.rows();
        FloatGemm.check(b, bOff, (long) k * n, "B", k, n);
        GemmEngine.Call call = GemmEngine.acquire();
        try {
            call.a = call.fp4A.set(a, true);
            call.b = call.floatsB.set(b, bOff, n, true);
            run(call, c, cOff, a.cols(), n, k, accumulate);
        } finally {
            GemmEngine.release(call);
        }
    }

    /**
     * C[M,N] (+)= Aᵀ·B̂ with A an FP32 row-major [K, m] from aOff and B an FP4 tensor [K,N].
     *
     * @throws IllegalArgumentException if A does not fit its array or C cannot hold [m, N]
     */
    public static void matmulTN(float[] a, int aOff, int m, Fp4Tensor b, float[] c, int cOff, boolean accumulate) {
        int k = b.rows();
        FloatGemm.check(a, aOff, (long) k * m, "A", k, m);
        GemmEngine.Call call = GemmEngine.acquire();
        try {
            call.a = call.floatsA.set(a, aOff, m, true);
            call.b = call.fp4B.set(b, true);
            run(call, c, cOff, m, b.cols(), k, accumulate);
        } finally {
            GemmEngine.release(call);
        }
    }

    /**
     * Whether a product of {@code a} and {@code b} here, over a reduction of length {@code k}, equals
     * bit for bit {@link FloatGemm}'s product of their dequantized values in the same layout. It
     * does when both operands' scales are powers of two ({@link Fp4Tensor#powerOfTwoScales}: every
     * rule but NVFP4's): each packed value times its outer factor is then the dequantized value
     * exactly, so FloatGemm's chain is this one's times the power of two outerA[i]·outerB[j], and
     * scaling by a power of two commutes with every rounding of the chain as long as the partial sums
     * stay normal: the smallest nonzero product, 2^−2·2^(eA+eB) over the smallest exponents, at least
     * 2^−126, and k·36·2^(eA+eB) over the largest below 2^127.
     */
    public static boolean matchesFloatGemm(Fp4Tensor a, Fp4Tensor b, int k) {
        int[] ra = new int[2];
        int[] rb = new int[2];
        if (!a.powerOfTwoScales(ra) || !b.powerOfTwoScales(rb)) {
            return false;
        }
        // k·36 < 2^(6 + bits of k)
        int kBits = 32 - Integer.numberOfLeadingZeros(Math.max(1, k));
        return ra[0] + rb[0] - 2 >= -126 && ra[1] + rb[1] + 6 + kBits < 127;
    }

    private static void inner(String an, int ar, int ac, String bn, int br, int bc, int ka, int kb, String rule) {
        if (ka != kb) {
            throw new IllegalArgumentException(an + " is [" + ar + ", " + ac + "] but " + bn + " is [" + br + ", " + bc
                    + "]: inner dimensions differ (" + rule + ")");
        }
    }

    private static void run(GemmEngine.Call call, float[] c, int cOff, int m, int n, int k, boolean accumulate) {
        FloatGemm.check(c, cOff, (long) m * n, "C", m, n);
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            if (!accumulate) {
                java.util.Arrays.fill(c, cOff, cOff + m * n, 0f);
            }
            return;
        }
        call.c = c;
        call.cOff = cOff;
        call.m = m;
        call.n = n;
        call.k = k;
        call.accumulate = accumulate;
        call.scaled = true;
        GemmEngine.run(call);
    }
}
