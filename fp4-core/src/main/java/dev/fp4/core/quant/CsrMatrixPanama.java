package dev.fp4.core.quant;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link CsrMatrix}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types. They take the
 * matrix's arrays (row pointers, column indices, values) as arguments.
 */
final class CsrMatrixPanama {
    private static final VectorSpecies<Float> F = PanamaSimd.FLOAT;
    private static final int L = F.length();

    private CsrMatrixPanama() {
    }

    static void multiplyTNVector(int rows, int[] rowPtr, int[] colIdx, float[] values, float[] b, int bOff, int n, float[] c, int cOff, int from, int to) {
        int bound = from + F.loopBound(to - from);
        for (int r = 0; r < rows; r++) {
            int br = bOff + r * n;
            for (int i = rowPtr[r]; i < rowPtr[r + 1]; i++) {
                float v = values[i];
                int cp = cOff + colIdx[i] * n;
                FloatVector vv = FloatVector.broadcast(F, v);
                int j = from;
                for (; j < bound; j += L) {
                    vv.fma(FloatVector.fromArray(F, b, br + j), FloatVector.fromArray(F, c, cp + j))
                            .intoArray(c, cp + j);
                }
                for (; j < to; j++) {
                    c[cp + j] = Math.fma(v, b[br + j], c[cp + j]);
                }
            }
        }
    }

    static void multiplyNTTransposedVector(int[] rowPtr, int[] colIdx, float[] values, float[] wt, int wtOff, int n, float[] c, int cOff, boolean accumulate,
                                    int from, int to) {
        for (int r = from; r < to; r++) {
            int start = rowPtr[r];
            int end = rowPtr[r + 1];
            int cr = cOff + r * n;
            if (start == end) {
                if (!accumulate) {
                    Arrays.fill(c, cr, cr + n, 0f);
                }
                continue;
            }
            int j = 0;
            for (; j + 4 * L <= n; j += 4 * L) {
                FloatVector s0 = FloatVector.zero(F);
                FloatVector s1 = FloatVector.zero(F);
                FloatVector s2 = FloatVector.zero(F);
                FloatVector s3 = FloatVector.zero(F);
                for (int i = start; i < end; i++) {
                    FloatVector v = FloatVector.broadcast(F, values[i]);
                    int w = wtOff + colIdx[i] * n + j;
                    s0 = v.fma(FloatVector.fromArray(F, wt, w), s0);
                    s1 = v.fma(FloatVector.fromArray(F, wt, w + L), s1);
                    s2 = v.fma(FloatVector.fromArray(F, wt, w + 2 * L), s2);
                    s3 = v.fma(FloatVector.fromArray(F, wt, w + 3 * L), s3);
                }
                if (accumulate) {
                    s0 = FloatVector.fromArray(F, c, cr + j).add(s0);
                    s1 = FloatVector.fromArray(F, c, cr + j + L).add(s1);
                    s2 = FloatVector.fromArray(F, c, cr + j + 2 * L).add(s2);
                    s3 = FloatVector.fromArray(F, c, cr + j + 3 * L).add(s3);
                }
                s0.intoArray(c, cr + j);
                s1.intoArray(c, cr + j + L);
                s2.intoArray(c, cr + j + 2 * L);
                s3.intoArray(c, cr + j + 3 * L);
            }
            for (; j + L <= n; j += L) {
                FloatVector s0 = FloatVector.zero(F);
                for (int i = start; i < end; i++) {
                    s0 = FloatVector.broadcast(F, values[i]).fma(FloatVector.fromArray(F, wt, wtOff + colIdx[i] * n + j), s0);
                }
                if (accumulate) {
                    s0 = FloatVector.fromArray(F, c, cr + j).add(s0);
                }
                s0.intoArray(c, cr + j);
            }
            for (; j < n; j++) {
                float s = 0f;
                for (int i = start; i < end; i++) {
                    s = Math.fma(values[i], wt[wtOff + colIdx[i] * n + j], s);
                }
                c[cr + j] = accumulate ? c[cr + j] + s : s;
            }
        }
    }
}
