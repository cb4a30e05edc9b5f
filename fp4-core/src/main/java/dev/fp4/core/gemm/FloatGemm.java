package dev.fp4.core.gemm;

import java.util.Objects;

/**
 * FP32 general matrix multiply over row-major arrays with offsets, in the three layouts training
 * needs. Every method writes {@code C} (or adds into it when {@code accumulate} is true) and
 * allocates nothing visible to the caller.
 *
 * <ul>
 *   <li>{@link #matmulNT}: C[m,n] = A[m,k] · B[n,k]ᵀ (forward of a linear layer, W laid out [out, in])
 *   <li>{@link #matmulNN}: C[m,n] = A[m,k] · B[k,n] (data gradient dX = dY · W)
 *   <li>{@link #matmulTN}: C[m,n] = A[k,m]ᵀ · B[k,n] (weight gradient dW = dYᵀ · X)
 * </ul>
 *
 * <p>Each output element is accumulated over k in increasing order of k, so results do not depend
 * on how the work is split.
 */
public final class FloatGemm {

    private FloatGemm() {
    }

    /** C[m,n] (+)= Σ_k A[i,k]·B[j,k]; A is [m,k], B is [n,k], C is [m,n], all row-major. */
    public static void matmulNT(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
        check(a, aOff, (long) m * k, "A", m, k);
        check(b, bOff, (long) n * k, "B", n, k);
        check(c, cOff, (long) m * n, "C", m, n);
        for (int i = 0; i < m; i++) {
            int ai = aOff + i * k;
            for (int j = 0; j < n; j++) {
                int bj = bOff + j * k;
                float s = 0f;
                for (int p = 0; p < k; p++) {
                    s = Math.fma(a[ai + p], b[bj + p], s);
                }
                int ci = cOff + i * n + j;
                c[ci] = accumulate ? c[ci] + s : s;
            }
        }
    }

    /** C[m,n] (+)= Σ_k A[i,k]·B[k,j]; A is [m,k], B is [k,n], C is [m,n], all row-major. */
    public static void matmulNN(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
        check(a, aOff, (long) m * k, "A", m, k);
        check(b, bOff, (long) k * n, "B", k, n);
        check(c, cOff, (long) m * n, "C", m, n);
        for (int i = 0; i < m; i++) {
            int ci = cOff + i * n;
            if (!accumulate) {
                java.util.Arrays.fill(c, ci, ci + n, 0f);
            }
            for (int p = 0; p < k; p++) {
                float aip = a[aOff + i * k + p];
                int bp = bOff + p * n;
                for (int j = 0; j < n; j++) {
                    c[ci + j] = Math.fma(aip, b[bp + j], c[ci + j]);
                }
            }
        }
    }

    /** C[m,n] (+)= Σ_k A[k,i]·B[k,j]; A is [k,m], B is [k,n], C is [m,n], all row-major. */
    public static void matmulTN(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
        check(a, aOff, (long) k * m, "A", k, m);
        check(b, bOff, (long) k * n, "B", k, n);
        check(c, cOff, (long) m * n, "C", m, n);
        for (int i = 0; i < m; i++) {
            int ci = cOff + i * n;
            if (!accumulate) {
                java.util.Arrays.fill(c, ci, ci + n, 0f);
            }
            for (int p = 0; p < k; p++) {
                float api = a[aOff + p * m + i];
                int bp = bOff + p * n;
                for (int j = 0; j < n; j++) {
                    c[ci + j] = Math.fma(api, b[bp + j], c[ci + j]);
                }
            }
        }
    }

    private static void check(float[] x, int off, long len, String name, int rows, int cols) {
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
