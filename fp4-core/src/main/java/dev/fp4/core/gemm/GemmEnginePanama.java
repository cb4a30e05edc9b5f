package dev.fp4.core.gemm;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link GemmEngine}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class GemmEnginePanama {
    private GemmEnginePanama() {
    }


    /**
     * The 6×(4·L) register-blocked micro-kernel: C[0..6, 0..NR) (+)= Σ_p A[p][r]·B[p][c] over
     * {@code kc} steps, each lane one FMA chain in increasing p. A[r][p] is {@code a[ao + r·lda + p]}:
     * six rows of an FP32 operand read in place, or a row-major packed panel (lda = kc); B is an
     * NR-wide packed panel. Local vector variables only: a vector-typed helper here could fail to
     * inline and box every vector.
     *
     * @param load start the chains from C (true) or from zero (false)
     */
    static void kernel(int kc, float[] a, int ao, int lda, float[] b, int bo, float[] c, int co, int ldc, boolean load) {
        final VectorSpecies<Float> s = PanamaSimd.FLOAT;
        final int l = s.length();
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23;
        FloatVector c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53;
        if (load) {
            c00 = FloatVector.fromArray(s, c, co + 0 * ldc + 0 * l);
            c01 = FloatVector.fromArray(s, c, co + 0 * ldc + 1 * l);
            c02 = FloatVector.fromArray(s, c, co + 0 * ldc + 2 * l);
            c03 = FloatVector.fromArray(s, c, co + 0 * ldc + 3 * l);
            c10 = FloatVector.fromArray(s, c, co + 1 * ldc + 0 * l);
            c11 = FloatVector.fromArray(s, c, co + 1 * ldc + 1 * l);
            c12 = FloatVector.fromArray(s, c, co + 1 * ldc + 2 * l);
            c13 = FloatVector.fromArray(s, c, co + 1 * ldc + 3 * l);
            c20 = FloatVector.fromArray(s, c, co + 2 * ldc + 0 * l);
            c21 = FloatVector.fromArray(s, c, co + 2 * ldc + 1 * l);
            c22 = FloatVector.fromArray(s, c, co + 2 * ldc + 2 * l);
            c23 = FloatVector.fromArray(s, c, co + 2 * ldc + 3 * l);
            c30 = FloatVector.fromArray(s, c, co + 3 * ldc + 0 * l);
            c31 = FloatVector.fromArray(s, c, co + 3 * ldc + 1 * l);
            c32 = FloatVector.fromArray(s, c, co + 3 * ldc + 2 * l);
            c33 = FloatVector.fromArray(s, c, co + 3 * ldc + 3 * l);
            c40 = FloatVector.fromArray(s, c, co + 4 * ldc + 0 * l);
            c41 = FloatVector.fromArray(s, c, co + 4 * ldc + 1 * l);
            c42 = FloatVector.fromArray(s, c, co + 4 * ldc + 2 * l);
            c43 = FloatVector.fromArray(s, c, co + 4 * ldc + 3 * l);
            c50 = FloatVector.fromArray(s, c, co + 5 * ldc + 0 * l);
            c51 = FloatVector.fromArray(s, c, co + 5 * ldc + 1 * l);
            c52 = FloatVector.fromArray(s, c, co + 5 * ldc + 2 * l);
            c53 = FloatVector.fromArray(s, c, co + 5 * ldc + 3 * l);
        } else {
            FloatVector z = FloatVector.zero(s);
            c00 = z; c01 = z; c02 = z; c03 = z;
            c10 = z; c11 = z; c12 = z; c13 = z;
            c20 = z; c21 = z; c22 = z; c23 = z;
            c30 = z; c31 = z; c32 = z; c33 = z;
            c40 = z; c41 = z; c42 = z; c43 = z;
            c50 = z; c51 = z; c52 = z; c53 = z;
        }
        final int a1o = ao + lda;
        final int a2o = ao + 2 * lda;
        final int a3o = ao + 3 * lda;
        final int a4o = ao + 4 * lda;
        final int a5o = ao + 5 * lda;
        for (int p = 0; p < kc; p++) {
            FloatVector b0 = FloatVector.fromArray(s, b, bo + 0 * l);
            FloatVector b1 = FloatVector.fromArray(s, b, bo + 1 * l);
            FloatVector b2 = FloatVector.fromArray(s, b, bo + 2 * l);
            FloatVector b3 = FloatVector.fromArray(s, b, bo + 3 * l);
            FloatVector a0 = FloatVector.broadcast(s, a[ao + p]);
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01); c02 = a0.fma(b2, c02); c03 = a0.fma(b3, c03);
            FloatVector a1 = FloatVector.broadcast(s, a[a1o + p]);
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11); c12 = a1.fma(b2, c12); c13 = a1.fma(b3, c13);
            FloatVector a2 = FloatVector.broadcast(s, a[a2o + p]);
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21); c22 = a2.fma(b2, c22); c23 = a2.fma(b3, c23);
            FloatVector a3 = FloatVector.broadcast(s, a[a3o + p]);
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31); c32 = a3.fma(b2, c32); c33 = a3.fma(b3, c33);
            FloatVector a4 = FloatVector.broadcast(s, a[a4o + p]);
            c40 = a4.fma(b0, c40); c41 = a4.fma(b1, c41); c42 = a4.fma(b2, c42); c43 = a4.fma(b3, c43);
            FloatVector a5 = FloatVector.broadcast(s, a[a5o + p]);
            c50 = a5.fma(b0, c50); c51 = a5.fma(b1, c51); c52 = a5.fma(b2, c52); c53 = a5.fma(b3, c53);
            bo += GemmEngine.NR;
        }
        c00.intoArray(c, co + 0 * ldc + 0 * l);
        c01.intoArray(c, co + 0 * ldc + 1 * l);
        c02.intoArray(c, co + 0 * ldc + 2 * l);
        c03.intoArray(c, co + 0 * ldc + 3 * l);
        c10.intoArray(c, co + 1 * ldc + 0 * l);
        c11.intoArray(c, co + 1 * ldc + 1 * l);
        c12.intoArray(c, co + 1 * ldc + 2 * l);
        c13.intoArray(c, co + 1 * ldc + 3 * l);
        c20.intoArray(c, co + 2 * ldc + 0 * l);
        c21.intoArray(c, co + 2 * ldc + 1 * l);
        c22.intoArray(c, co + 2 * ldc + 2 * l);
        c23.intoArray(c, co + 2 * ldc + 3 * l);
        c30.intoArray(c, co + 3 * ldc + 0 * l);
        c31.intoArray(c, co + 3 * ldc + 1 * l);
        c32.intoArray(c, co + 3 * ldc + 2 * l);
        c33.intoArray(c, co + 3 * ldc + 3 * l);
        c40.intoArray(c, co + 4 * ldc + 0 * l);
        c41.intoArray(c, co + 4 * ldc + 1 * l);
        c42.intoArray(c, co + 4 * ldc + 2 * l);
        c43.intoArray(c, co + 4 * ldc + 3 * l);
        c50.intoArray(c, co + 5 * ldc + 0 * l);
        c51.intoArray(c, co + 5 * ldc + 1 * l);
        c52.intoArray(c, co + 5 * ldc + 2 * l);
        c53.intoArray(c, co + 5 * ldc + 3 * l);
    }

    /**
     * The 6×(4·L) register-blocked micro-kernel: C[0..6, 0..NR) (+)= Σ_p A[p][r]·B[p][c] over
     * {@code kc} steps of a reduction-major left operand, A[r][p] = {@code a[ao + p·lda + r]} (a
     * packed panel, lda = MR, or a k-major FP32 operand in place, lda its leading dimension), and an
     * NR-wide packed panel of B, each lane one FMA chain in increasing p. The twin of
     * {@link #kernel} for a k-major left operand (one kernel with a layout flag in its loop ran
     * 7–9% slower on NT with K = 256; one with a row and a step stride, A at a[ao + r·rs] and ao += ps,
     * 20–35% slower on the `medium` TN, NT and NN shapes and on 1024³). Local vector variables only: a vector-typed helper here
     * could fail to inline and box every vector.
     *
     * @param load start the chains from C (true) or from zero (false)
     */
    static void kernelPanels(int kc, float[] a, int ao, int lda, float[] b, int bo, float[] c, int co, int ldc, boolean load) {
        final VectorSpecies<Float> s = PanamaSimd.FLOAT;
        final int l = s.length();
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23;
        FloatVector c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53;
        if (load) {
            c00 = FloatVector.fromArray(s, c, co + 0 * ldc + 0 * l);
            c01 = FloatVector.fromArray(s, c, co + 0 * ldc + 1 * l);
            c02 = FloatVector.fromArray(s, c, co + 0 * ldc + 2 * l);
            c03 = FloatVector.fromArray(s, c, co + 0 * ldc + 3 * l);
            c10 = FloatVector.fromArray(s, c, co + 1 * ldc + 0 * l);
            c11 = FloatVector.fromArray(s, c, co + 1 * ldc + 1 * l);
            c12 = FloatVector.fromArray(s, c, co + 1 * ldc + 2 * l);
            c13 = FloatVector.fromArray(s, c, co + 1 * ldc + 3 * l);
            c20 = FloatVector.fromArray(s, c, co + 2 * ldc + 0 * l);
            c21 = FloatVector.fromArray(s, c, co + 2 * ldc + 1 * l);
            c22 = FloatVector.fromArray(s, c, co + 2 * ldc + 2 * l);
            c23 = FloatVector.fromArray(s, c, co + 2 * ldc + 3 * l);
            c30 = FloatVector.fromArray(s, c, co + 3 * ldc + 0 * l);
            c31 = FloatVector.fromArray(s, c, co + 3 * ldc + 1 * l);
            c32 = FloatVector.fromArray(s, c, co + 3 * ldc + 2 * l);
            c33 = FloatVector.fromArray(s, c, co + 3 * ldc + 3 * l);
            c40 = FloatVector.fromArray(s, c, co + 4 * ldc + 0 * l);
            c41 = FloatVector.fromArray(s, c, co + 4 * ldc + 1 * l);
            c42 = FloatVector.fromArray(s, c, co + 4 * ldc + 2 * l);
            c43 = FloatVector.fromArray(s, c, co + 4 * ldc + 3 * l);
            c50 = FloatVector.fromArray(s, c, co + 5 * ldc + 0 * l);
            c51 = FloatVector.fromArray(s, c, co + 5 * ldc + 1 * l);
            c52 = FloatVector.fromArray(s, c, co + 5 * ldc + 2 * l);
            c53 = FloatVector.fromArray(s, c, co + 5 * ldc + 3 * l);
        } else {
            FloatVector z = FloatVector.zero(s);
            c00 = z; c01 = z; c02 = z; c03 = z;
            c10 = z; c11 = z; c12 = z; c13 = z;
            c20 = z; c21 = z; c22 = z; c23 = z;
            c30 = z; c31 = z; c32 = z; c33 = z;
            c40 = z; c41 = z; c42 = z; c43 = z;
            c50 = z; c51 = z; c52 = z; c53 = z;
        }
        for (int p = 0; p < kc; p++) {
            FloatVector b0 = FloatVector.fromArray(s, b, bo + 0 * l);
            FloatVector b1 = FloatVector.fromArray(s, b, bo + 1 * l);
            FloatVector b2 = FloatVector.fromArray(s, b, bo + 2 * l);
            FloatVector b3 = FloatVector.fromArray(s, b, bo + 3 * l);
            FloatVector a0 = FloatVector.broadcast(s, a[ao + 0]);
            c00 = a0.fma(b0, c00); c01 = a0.fma(b1, c01); c02 = a0.fma(b2, c02); c03 = a0.fma(b3, c03);
            FloatVector a1 = FloatVector.broadcast(s, a[ao + 1]);
            c10 = a1.fma(b0, c10); c11 = a1.fma(b1, c11); c12 = a1.fma(b2, c12); c13 = a1.fma(b3, c13);
            FloatVector a2 = FloatVector.broadcast(s, a[ao + 2]);
            c20 = a2.fma(b0, c20); c21 = a2.fma(b1, c21); c22 = a2.fma(b2, c22); c23 = a2.fma(b3, c23);
            FloatVector a3 = FloatVector.broadcast(s, a[ao + 3]);
            c30 = a3.fma(b0, c30); c31 = a3.fma(b1, c31); c32 = a3.fma(b2, c32); c33 = a3.fma(b3, c33);
            FloatVector a4 = FloatVector.broadcast(s, a[ao + 4]);
            c40 = a4.fma(b0, c40); c41 = a4.fma(b1, c41); c42 = a4.fma(b2, c42); c43 = a4.fma(b3, c43);
            FloatVector a5 = FloatVector.broadcast(s, a[ao + 5]);
            c50 = a5.fma(b0, c50); c51 = a5.fma(b1, c51); c52 = a5.fma(b2, c52); c53 = a5.fma(b3, c53);
            ao += lda;
            bo += GemmEngine.NR;
        }
        c00.intoArray(c, co + 0 * ldc + 0 * l);
        c01.intoArray(c, co + 0 * ldc + 1 * l);
        c02.intoArray(c, co + 0 * ldc + 2 * l);
        c03.intoArray(c, co + 0 * ldc + 3 * l);
        c10.intoArray(c, co + 1 * ldc + 0 * l);
        c11.intoArray(c, co + 1 * ldc + 1 * l);
        c12.intoArray(c, co + 1 * ldc + 2 * l);
        c13.intoArray(c, co + 1 * ldc + 3 * l);
        c20.intoArray(c, co + 2 * ldc + 0 * l);
        c21.intoArray(c, co + 2 * ldc + 1 * l);
        c22.intoArray(c, co + 2 * ldc + 2 * l);
        c23.intoArray(c, co + 2 * ldc + 3 * l);
        c30.intoArray(c, co + 3 * ldc + 0 * l);
        c31.intoArray(c, co + 3 * ldc + 1 * l);
        c32.intoArray(c, co + 3 * ldc + 2 * l);
        c33.intoArray(c, co + 3 * ldc + 3 * l);
        c40.intoArray(c, co + 4 * ldc + 0 * l);
        c41.intoArray(c, co + 4 * ldc + 1 * l);
        c42.intoArray(c, co + 4 * ldc + 2 * l);
        c43.intoArray(c, co + 4 * ldc + 3 * l);
        c50.intoArray(c, co + 5 * ldc + 0 * l);
        c51.intoArray(c, co + 5 * ldc + 1 * l);
        c52.intoArray(c, co + 5 * ldc + 2 * l);
        c53.intoArray(c, co + 5 * ldc + 3 * l);
    }
}
