package dev.fp4.core.gemm;

import dev.fp4.core.simd.Simd;
import java.util.Arrays;
import java.util.Objects;

/**
 * FP32 general matrix multiply over row-major arrays with offsets, in the three layouts training
 * needs. Every method writes {@code C} (or adds into it when {@code accumulate} is true) and
 * allocates nothing once its per-thread buffers are warm.
 *
 * <ul>
 *   <li>{@link #matmulNT}: C[m,n] = A[m,k] · B[n,k]ᵀ (forward of a linear layer, W laid out [out, in])
 *   <li>{@link #matmulNN}: C[m,n] = A[m,k] · B[k,n] (data gradient dX = dY · W)
 *   <li>{@link #matmulTN}: C[m,n] = A[k,m]ᵀ · B[k,n] (weight gradient dW = dYᵀ · X)
 * </ul>
 *
 * <p>Result, bit for bit: each element of C is one chain of fused multiply-adds over k in increasing
 * order — exactly the loops of {@link FloatGemmReference}: with {@code accumulate}, NN and TN
 * continue the chain from the old C, NT adds its finished dot product to C. It therefore does not depend on blocking, vector width or the number
 * of threads ({@link Gemm#setThreads(int)}). With the Vector API enabled the work runs in a
 * cache-blocked engine with a register-blocked micro-kernel, split over output rectangles on the
 * shared pool; with {@code fp4.vector.bits=0} it runs {@link FloatGemmReference}.
 *
 * <p>Input checks: arrays non-null, shapes non-negative, each operand within its array (the message
 * names the operand, its shape, the offset and the array length). C must not overlap A or B.
 */
public final class FloatGemm {

    private FloatGemm() {
    }

    /**
     * C[m,n] (+)= Σ_k A[i,k]·B[j,k]; A is [m,k], B is [n,k], C is [m,n], all row-major.
     *
     * @param a          left operand, [m, k] from {@code aOff}
     * @param b          right operand, [n, k] from {@code bOff}
     * @param c          output, [m, n] from {@code cOff}
     * @param accumulate add into C instead of overwriting it
     * @throws IllegalArgumentException if a shape is negative or an operand does not fit its array
     */
    public static void matmulNT(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
        check(a, aOff, (long) m * k, "A", m, k);
        check(b, bOff, (long) n * k, "B", n, k);
        check(c, cOff, (long) m * n, "C", m, n);
        if (!Simd.ENABLED) {
            FloatGemmReference.matmulNT(a, aOff, b, bOff, c, cOff, m, n, k, accumulate);
            return;
        }
        run(a, aOff, k, false, b, bOff, k, false, c, cOff, m, n, k, accumulate, false);
    }

    /**
     * C[m,n] (+)= Σ_k A[i,k]·B[k,j]; A is [m,k], B is [k,n], C is [m,n], all row-major.
     *
     * @param a          left operand, [m, k] from {@code aOff}
     * @param b          right operand, [k, n] from {@code bOff}
     * @param c          output, [m, n] from {@code cOff}
     * @param accumulate add into C instead of overwriting it
     * @throws IllegalArgumentException if a shape is negative or an operand does not fit its array
     */
    public static void matmulNN(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
        check(a, aOff, (long) m * k, "A", m, k);
        check(b, bOff, (long) k * n, "B", k, n);
        check(c, cOff, (long) m * n, "C", m, n);
        if (!Simd.ENABLED) {
            FloatGemmReference.matmulNN(a, aOff, b, bOff, c, cOff, m, n, k, accumulate);
            return;
        }
        run(a, aOff, k, false, b, bOff, n, true, c, cOff, m, n, k, accumulate, true);
    }

    /**
     * C[m,n] (+)= Σ_k A[k,i]·B[k,j]; A is [k,m], B is [k,n], C is [m,n], all row-major.
     *
     * @param a          left operand, [k, m] from {@code aOff}
     * @param b          right operand, [k, n] from {@code bOff}
     * @param c          output, [m, n] from {@code cOff}
     * @param accumulate add into C instead of overwriting it
     * @throws IllegalArgumentException if a shape is negative or an operand does not fit its array
     */
    public static void matmulTN(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
        check(a, aOff, (long) k * m, "A", k, m);
        check(b, bOff, (long) k * n, "B", k, n);
        check(c, cOff, (long) m * n, "C", m, n);
        if (!Simd.ENABLED) {
            FloatGemmReference.matmulTN(a, aOff, b, bOff, c, cOff, m, n, k, accumulate);
            return;
        }
        run(a, aOff, m, true, b, bOff, n, true, c, cOff, m, n, k, accumulate, true);
    }

    /**
     * @param chainFromC with accumulate: continue each chain from the old C (NN, TN) rather than add
     *                   the finished chain to it (NT; the engine's scaled mode with factors 1, exact)
     */
    private static void run(float[] a, int aOff, int lda, boolean aKMajor, float[] b, int bOff, int ldb,
                            boolean bKMajor, float[] c, int cOff, int m, int n, int k, boolean accumulate,
                            boolean chainFromC) {
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            if (!accumulate) {
                Arrays.fill(c, cOff, cOff + m * n, 0f);
            }
            return;
        }
        GemmEngine.Call call = GemmEngine.acquire();
        try {
            call.a = call.floatsA.set(a, aOff, lda, aKMajor);
            call.b = call.floatsB.set(b, bOff, ldb, bKMajor);
            call.c = c;
            call.cOff = cOff;
            call.m = m;
            call.n = n;
            call.k = k;
            call.accumulate = accumulate;
            call.scaled = accumulate && !chainFromC;
            GemmEngine.run(call);
        } finally {
            GemmEngine.release(call);
        }
    }

    static void check(float[] x, int off, long len, String name, int rows, int cols) {
        Objects.requireNonNull(x, name);
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException(name + " has negative shape [" + rows + ", " + cols + "]");
        }
        if (off < 0 || off + len > x.length) {
            throw new IllegalArgumentException(name + " [" + rows + ", " + cols + "] at offset " + off
                    + " needs " + len + " elements but the array has " + x.length);
        }
    }
}
