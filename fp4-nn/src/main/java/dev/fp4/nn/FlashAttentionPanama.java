package dev.fp4.nn;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import java.util.Arrays;
import java.util.function.IntConsumer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link FlashAttention}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class FlashAttentionPanama {
    private FlashAttentionPanama() {
    }


    static final VectorSpecies<Float> S = PanamaSimd.FLOAT;
    static final int L = S.length();

    static void scoresVector(float[] a, int aOff, int lda, int rows, float[] bt, int btOff, int ldb, int cols,
                             int d, int limit, float[] s, int lds) {
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int n = Math.min(cols, r + 3 + limit); // columns the last row of the group needs
            // Whole vectors up to n rounded up (the extra columns are outside the region, allowed to
            // hold anything, and within the block while under loopBound(cols)): on the causal diagonal
            // this replaces up to L − 1 scalar dot products per row by one vector.
            int nv = Math.min((n + L - 1) / L * L, S.loopBound(cols));
            int a0 = aOff + r * lda;
            int a1 = a0 + lda;
            int a2 = a1 + lda;
            int a3 = a2 + lda;
            int s0 = r * lds;
            int c = 0;
            for (; c + 2 * L <= nv; c += 2 * L) {
                FloatVector acc0 = FloatVector.zero(S);
                FloatVector acc1 = FloatVector.zero(S);
                FloatVector acc2 = FloatVector.zero(S);
                FloatVector acc3 = FloatVector.zero(S);
                FloatVector acc4 = FloatVector.zero(S);
                FloatVector acc5 = FloatVector.zero(S);
                FloatVector acc6 = FloatVector.zero(S);
                FloatVector acc7 = FloatVector.zero(S);
                int bp = btOff + c;
                for (int p = 0; p < d; p++, bp += ldb) {
                    FloatVector b0 = FloatVector.fromArray(S, bt, bp);
                    FloatVector b1 = FloatVector.fromArray(S, bt, bp + L);
                    FloatVector x0 = FloatVector.broadcast(S, a[a0 + p]);
                    FloatVector x1 = FloatVector.broadcast(S, a[a1 + p]);
                    FloatVector x2 = FloatVector.broadcast(S, a[a2 + p]);
                    FloatVector x3 = FloatVector.broadcast(S, a[a3 + p]);
                    acc0 = x0.fma(b0, acc0);
                    acc1 = x1.fma(b0, acc1);
                    acc2 = x2.fma(b0, acc2);
                    acc3 = x3.fma(b0, acc3);
                    acc4 = x0.fma(b1, acc4);
                    acc5 = x1.fma(b1, acc5);
                    acc6 = x2.fma(b1, acc6);
                    acc7 = x3.fma(b1, acc7);
                }
                acc0.intoArray(s, s0 + c);
                acc1.intoArray(s, s0 + lds + c);
                acc2.intoArray(s, s0 + 2 * lds + c);
                acc3.intoArray(s, s0 + 3 * lds + c);
                acc4.intoArray(s, s0 + c + L);
                acc5.intoArray(s, s0 + lds + c + L);
                acc6.intoArray(s, s0 + 2 * lds + c + L);
                acc7.intoArray(s, s0 + 3 * lds + c + L);
            }
            for (; c < nv; c += L) {
                FloatVector acc0 = FloatVector.zero(S);
                FloatVector acc1 = FloatVector.zero(S);
                FloatVector acc2 = FloatVector.zero(S);
                FloatVector acc3 = FloatVector.zero(S);
                int bp = btOff + c;
                for (int p = 0; p < d; p++, bp += ldb) {
                    FloatVector bv = FloatVector.fromArray(S, bt, bp);
                    acc0 = FloatVector.broadcast(S, a[a0 + p]).fma(bv, acc0);
                    acc1 = FloatVector.broadcast(S, a[a1 + p]).fma(bv, acc1);
                    acc2 = FloatVector.broadcast(S, a[a2 + p]).fma(bv, acc2);
                    acc3 = FloatVector.broadcast(S, a[a3 + p]).fma(bv, acc3);
                }
                acc0.intoArray(s, s0 + c);
                acc1.intoArray(s, s0 + lds + c);
                acc2.intoArray(s, s0 + 2 * lds + c);
                acc3.intoArray(s, s0 + 3 * lds + c);
            }
            for (; c < n; c++) {
                s[s0 + c] = FlashAttention.dotColumn(a, a0, bt, btOff + c, ldb, d);
                s[s0 + lds + c] = FlashAttention.dotColumn(a, a1, bt, btOff + c, ldb, d);
                s[s0 + 2 * lds + c] = FlashAttention.dotColumn(a, a2, bt, btOff + c, ldb, d);
                s[s0 + 3 * lds + c] = FlashAttention.dotColumn(a, a3, bt, btOff + c, ldb, d);
            }
        }
        for (; r < rows; r++) {
            int n = Math.min(cols, r + limit);
            int nv = Math.min((n + L - 1) / L * L, S.loopBound(cols));
            int a0 = aOff + r * lda;
            int s0 = r * lds;
            int c = 0;
            for (; c < nv; c += L) {
                FloatVector acc0 = FloatVector.zero(S);
                int bp = btOff + c;
                for (int p = 0; p < d; p++, bp += ldb) {
                    acc0 = FloatVector.broadcast(S, a[a0 + p]).fma(FloatVector.fromArray(S, bt, bp), acc0);
                }
                acc0.intoArray(s, s0 + c);
            }
            for (; c < n; c++) {
                s[s0 + c] = FlashAttention.dotColumn(a, a0, bt, btOff + c, ldb, d);
            }
        }
    }

    static void accumulateVector(float[] p, int pOff, int pStride, int n, float[] v, int vOff, int ldv, int d,
                                 float[] o, int oOff) {
        int x = 0;
        for (; x + 2 * L <= d; x += 2 * L) {
            FloatVector acc0 = FloatVector.fromArray(S, o, oOff + x);
            FloatVector acc1 = FloatVector.fromArray(S, o, oOff + x + L);
            int vi = vOff + x;
            int pi = pOff;
            for (int i = 0; i < n; i++, vi += ldv, pi += pStride) {
                FloatVector pv = FloatVector.broadcast(S, p[pi]);
                acc0 = pv.fma(FloatVector.fromArray(S, v, vi), acc0);
                acc1 = pv.fma(FloatVector.fromArray(S, v, vi + L), acc1);
            }
            acc0.intoArray(o, oOff + x);
            acc1.intoArray(o, oOff + x + L);
        }
        for (; x + L <= d; x += L) {
            FloatVector acc0 = FloatVector.fromArray(S, o, oOff + x);
            int vi = vOff + x;
            int pi = pOff;
            for (int i = 0; i < n; i++, vi += ldv, pi += pStride) {
                acc0 = FloatVector.broadcast(S, p[pi]).fma(FloatVector.fromArray(S, v, vi), acc0);
            }
            acc0.intoArray(o, oOff + x);
        }
        for (; x < d; x++) {
            o[oOff + x] = FlashAttention.accumulateOne(p, pOff, pStride, n, v, vOff + x, ldv, o[oOff + x]);
        }
    }

    static void accumulate4Vector(float[] p, int pOff, int pK, int pI, int lo, int dLo, int hi, int dHi,
                                  float[] v, int vOff, int ldv, int d, float[] o, int oOff, int ldo) {
        int jointLo = lo + 3 * dLo;      // dLo, dHi are 0 or 1
        int jointHi = hi;
        if (jointHi <= jointLo) {
            for (int k = 0; k < 4; k++) {
                int from = lo + k * dLo;
                int to = hi + k * dHi;
                if (to > from) {
                    accumulateVector(p, pOff + k * pK + from * pI, pI, to - from, v, vOff + from * ldv, ldv, d,
                            o, oOff + k * ldo);
                }
            }
            return;
        }
        // Leading terms of the outputs that start before the joint range.
        for (int k = 0; k < 4; k++) {
            int from = lo + k * dLo;
            if (jointLo > from) {
                accumulateVector(p, pOff + k * pK + from * pI, pI, jointLo - from, v, vOff + from * ldv, ldv, d,
                        o, oOff + k * ldo);
            }
        }
        int o0 = oOff;
        int o1 = oOff + ldo;
        int o2 = o1 + ldo;
        int o3 = o2 + ldo;
        int p0 = pOff + jointLo * pI;
        int n = jointHi - jointLo;
        int x = 0;
        for (; x + 2 * L <= d; x += 2 * L) {
            FloatVector a0 = FloatVector.fromArray(S, o, o0 + x);
            FloatVector a1 = FloatVector.fromArray(S, o, o1 + x);
            FloatVector a2 = FloatVector.fromArray(S, o, o2 + x);
            FloatVector a3 = FloatVector.fromArray(S, o, o3 + x);
            FloatVector a4 = FloatVector.fromArray(S, o, o0 + x + L);
            FloatVector a5 = FloatVector.fromArray(S, o, o1 + x + L);
            FloatVector a6 = FloatVector.fromArray(S, o, o2 + x + L);
            FloatVector a7 = FloatVector.fromArray(S, o, o3 + x + L);
            int vi = vOff + jointLo * ldv + x;
            int pi = p0;
            for (int i = 0; i < n; i++, vi += ldv, pi += pI) {
                FloatVector v0 = FloatVector.fromArray(S, v, vi);
                FloatVector v1 = FloatVector.fromArray(S, v, vi + L);
                FloatVector w0 = FloatVector.broadcast(S, p[pi]);
                FloatVector w1 = FloatVector.broadcast(S, p[pi + pK]);
                FloatVector w2 = FloatVector.broadcast(S, p[pi + 2 * pK]);
                FloatVector w3 = FloatVector.broadcast(S, p[pi + 3 * pK]);
                a0 = w0.fma(v0, a0);
                a1 = w1.fma(v0, a1);
                a2 = w2.fma(v0, a2);
                a3 = w3.fma(v0, a3);
                a4 = w0.fma(v1, a4);
                a5 = w1.fma(v1, a5);
                a6 = w2.fma(v1, a6);
                a7 = w3.fma(v1, a7);
            }
            a0.intoArray(o, o0 + x);
            a1.intoArray(o, o1 + x);
            a2.intoArray(o, o2 + x);
            a3.intoArray(o, o3 + x);
            a4.intoArray(o, o0 + x + L);
            a5.intoArray(o, o1 + x + L);
            a6.intoArray(o, o2 + x + L);
            a7.intoArray(o, o3 + x + L);
        }
        for (; x + L <= d; x += L) {
            FloatVector a0 = FloatVector.fromArray(S, o, o0 + x);
            FloatVector a1 = FloatVector.fromArray(S, o, o1 + x);
            FloatVector a2 = FloatVector.fromArray(S, o, o2 + x);
            FloatVector a3 = FloatVector.fromArray(S, o, o3 + x);
            int vi = vOff + jointLo * ldv + x;
            int pi = p0;
            for (int i = 0; i < n; i++, vi += ldv, pi += pI) {
                FloatVector v0 = FloatVector.fromArray(S, v, vi);
                a0 = FloatVector.broadcast(S, p[pi]).fma(v0, a0);
                a1 = FloatVector.broadcast(S, p[pi + pK]).fma(v0, a1);
                a2 = FloatVector.broadcast(S, p[pi + 2 * pK]).fma(v0, a2);
                a3 = FloatVector.broadcast(S, p[pi + 3 * pK]).fma(v0, a3);
            }
            a0.intoArray(o, o0 + x);
            a1.intoArray(o, o1 + x);
            a2.intoArray(o, o2 + x);
            a3.intoArray(o, o3 + x);
        }
        for (; x < d; x++) {
            int vx = vOff + jointLo * ldv + x;
            o[o0 + x] = FlashAttention.accumulateOne(p, p0, pI, n, v, vx, ldv, o[o0 + x]);
            o[o1 + x] = FlashAttention.accumulateOne(p, p0 + pK, pI, n, v, vx, ldv, o[o1 + x]);
            o[o2 + x] = FlashAttention.accumulateOne(p, p0 + 2 * pK, pI, n, v, vx, ldv, o[o2 + x]);
            o[o3 + x] = FlashAttention.accumulateOne(p, p0 + 3 * pK, pI, n, v, vx, ldv, o[o3 + x]);
        }
        // Trailing terms of the outputs that end after the joint range.
        for (int k = 0; k < 4; k++) {
            int to = hi + k * dHi;
            if (to > jointHi) {
                accumulateVector(p, pOff + k * pK + jointHi * pI, pI, to - jointHi, v, vOff + jointHi * ldv, ldv, d,
                        o, oOff + k * ldo);
            }
        }
    }

    static void expShiftedVector(float[] s, int off, int n, float scale, float shift) {
        int i = 0;
        float neg = -shift;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(S, s, off + i).fma(scale, neg);
            VectorMask<Float> under = x.compare(VectorOperators.LT, VectorOps.EXP_LO);
            x = x.min(VectorOps.EXP_HI);
            FloatVector nv = x.fma(VectorOps.LOG2E, VectorOps.MAGIC).sub(VectorOps.MAGIC);
            FloatVector r = nv.fma(FloatVector.broadcast(S, -VectorOps.LN2_HI), x);
            r = nv.fma(FloatVector.broadcast(S, -VectorOps.LN2_LO), r);
            FloatVector e = FloatVector.broadcast(S, VectorOps.P0).fma(r, FloatVector.broadcast(S, VectorOps.P1));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P2));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P3));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P4));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P5));
            FloatVector y = e.fma(r.mul(r), r.add(1f));
            IntVector bits = ((IntVector) nv.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
            y.mul(bits.reinterpretAsFloats()).blend(0f, under).intoArray(s, off + i);
        }
        for (; i < n; i++) {
            s[off + i] = VectorOps.exp(Math.fma(s[off + i], scale, neg));
        }
    }

    static void probsAndGradVector(float[] s, float[] dp, int off, int n, float scale, float lse, float di) {
        int i = 0;
        float neg = -lse;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(S, s, off + i).fma(scale, neg);
            VectorMask<Float> under = x.compare(VectorOperators.LT, VectorOps.EXP_LO);
            x = x.min(VectorOps.EXP_HI);
            FloatVector nv = x.fma(VectorOps.LOG2E, VectorOps.MAGIC).sub(VectorOps.MAGIC);
            FloatVector r = nv.fma(FloatVector.broadcast(S, -VectorOps.LN2_HI), x);
            r = nv.fma(FloatVector.broadcast(S, -VectorOps.LN2_LO), r);
            FloatVector e = FloatVector.broadcast(S, VectorOps.P0).fma(r, FloatVector.broadcast(S, VectorOps.P1));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P2));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P3));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P4));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P5));
            FloatVector y = e.fma(r.mul(r), r.add(1f));
            IntVector bits = ((IntVector) nv.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
            FloatVector pv = y.mul(bits.reinterpretAsFloats()).blend(0f, under);
            pv.intoArray(s, off + i);
            pv.mul(FloatVector.fromArray(S, dp, off + i).sub(di)).mul(scale).intoArray(dp, off + i);
        }
        for (; i < n; i++) {
            float pi = VectorOps.exp(Math.fma(s[off + i], scale, neg));
            s[off + i] = pi;
            dp[off + i] = pi * (dp[off + i] - di) * scale;
        }
    }
}
