package dev.fp4.core.gemm;

/**
 * The scalar twin of {@link FloatGemm}: plain loops that define its result bit for bit.
 *
 * <p>Every element of C is one chain of {@link Math#fma} over k = 0, 1, ..., K−1 in increasing
 * order. With {@code accumulate} the NN and TN chains start from the old value of C (C is updated in
 * place, row by row), while the NT chain starts from 0 and its sum is then added to C once (a dot
 * product per element); without it every chain starts from 0. The blocked
 * vector engine computes exactly these chains, so the two agree to the bit; {@link FloatGemm} runs
 * this class when the Vector API is disabled ({@code fp4.vector.bits=0}). Arguments are not checked
 * here: {@link FloatGemm} does that.
 */
public final class FloatGemmReference {

    private FloatGemmReference() {
    }

    /** C[m,n] (+)= A[m,k]·B[n,k]ᵀ, row-major: s = fma-chain from 0, then C = s or C + s. */
    public static void matmulNT(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
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

    /** C[m,n] (+)= A[m,k]·B[k,n], row-major: the fma chain runs in C (from 0 or the old C). */
    public static void matmulNN(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
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

    /** C[m,n] (+)= A[k,m]ᵀ·B[k,n], row-major: the fma chain runs in C (from 0 or the old C). */
    public static void matmulTN(float[] a, int aOff, float[] b, int bOff, float[] c, int cOff,
                                int m, int n, int k, boolean accumulate) {
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
}
