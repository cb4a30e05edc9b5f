package dev.fp4.nn;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link VectorOps}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class VectorOpsPanama {
    private VectorOpsPanama() {
    }

    static final VectorSpecies<Float> S = PanamaSimd.FLOAT;
    static final int L = S.length();

    static void expAffineVector(float[] src, int srcOff, float[] dst, int dstOff, int n, float shift, float scale) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(S, src, srcOff + i).sub(shift).mul(scale);
            VectorMask<Float> under = x.compare(VectorOperators.LT, VectorOps.EXP_LO);
            x = x.min(VectorOps.EXP_HI);
            FloatVector nv = x.fma(VectorOps.LOG2E, VectorOps.MAGIC).sub(VectorOps.MAGIC);
            FloatVector r = nv.fma(FloatVector.broadcast(S, -VectorOps.LN2_HI), x);
            r = nv.fma(FloatVector.broadcast(S, -VectorOps.LN2_LO), r);
            FloatVector p = FloatVector.broadcast(S, VectorOps.P0).fma(r, FloatVector.broadcast(S, VectorOps.P1));
            p = p.fma(r, FloatVector.broadcast(S, VectorOps.P2));
            p = p.fma(r, FloatVector.broadcast(S, VectorOps.P3));
            p = p.fma(r, FloatVector.broadcast(S, VectorOps.P4));
            p = p.fma(r, FloatVector.broadcast(S, VectorOps.P5));
            FloatVector y = p.fma(r.mul(r), r.add(1f));
            IntVector bits = ((IntVector) nv.convert(VectorOperators.F2I, 0))
                    .add(127).lanewise(VectorOperators.LSHL, 23);
            y.mul(bits.reinterpretAsFloats()).blend(0f, under).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = VectorOps.exp((src[srcOff + i] - shift) * scale);
        }
    }

    static float sumVector(float[] x, int off, int n) {
        FloatVector acc0 = FloatVector.zero(S);
        FloatVector acc1 = FloatVector.zero(S);
        FloatVector acc2 = FloatVector.zero(S);
        FloatVector acc3 = FloatVector.zero(S);
        int bound = n - n % VectorOps.PARTIALS;
        for (int i = 0; i < bound; i += VectorOps.PARTIALS) {
            acc0 = acc0.add(FloatVector.fromArray(S, x, off + i));
            if (L < 16) {
                acc1 = acc1.add(FloatVector.fromArray(S, x, off + i + L));
            }
            if (L < 8) {
                acc2 = acc2.add(FloatVector.fromArray(S, x, off + i + 2 * L));
                acc3 = acc3.add(FloatVector.fromArray(S, x, off + i + 3 * L));
            }
        }
        float s = 0f;
        for (int l = 0; l < L; l++) {
            s += acc0.lane(l);
        }
        if (L < 16) {
            for (int l = 0; l < L; l++) {
                s += acc1.lane(l);
            }
        }
        if (L < 8) {
            for (int l = 0; l < L; l++) {
                s += acc2.lane(l);
            }
            for (int l = 0; l < L; l++) {
                s += acc3.lane(l);
            }
        }
        for (int i = bound; i < n; i++) {
            s += x[off + i];
        }
        return s;
    }

    static float maxVector(float[] x, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        int i = 0;
        int bound = S.loopBound(n);
        if (bound > 0) {
            FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; i < bound; i += L) {
                mv = mv.max(FloatVector.fromArray(S, x, off + i));
            }
            // MAX is exact, commutative and associative (NaN wins, +0 > -0), so the order is free.
            m = mv.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, x[off + i]);
        }
        return m;
    }

    /** x[off + i] *= a over the whole vectors of n; returns how many elements it scaled. */
    static int scaleVector(float[] x, int off, int n, float a) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(S, x, off + i).mul(a).intoArray(x, off + i);
        }
        return i;
    }

    static void addVector(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(S, a, aOff + i).add(FloatVector.fromArray(S, b, bOff + i))
                    .intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = a[aOff + i] + b[bOff + i];
        }
    }

    static float dotVector(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc0 = FloatVector.zero(S);
        FloatVector acc1 = FloatVector.zero(S);
        FloatVector acc2 = FloatVector.zero(S);
        FloatVector acc3 = FloatVector.zero(S);
        int bound = n - n % VectorOps.PARTIALS;
        for (int i = 0; i < bound; i += VectorOps.PARTIALS) {
            acc0 = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc0);
            if (L < 16) {
                acc1 = FloatVector.fromArray(S, a, aOff + i + L).fma(FloatVector.fromArray(S, b, bOff + i + L), acc1);
            }
            if (L < 8) {
                acc2 = FloatVector.fromArray(S, a, aOff + i + 2 * L)
                        .fma(FloatVector.fromArray(S, b, bOff + i + 2 * L), acc2);
                acc3 = FloatVector.fromArray(S, a, aOff + i + 3 * L)
                        .fma(FloatVector.fromArray(S, b, bOff + i + 3 * L), acc3);
            }
        }
        float s = 0f;
        for (int l = 0; l < L; l++) {
            s += acc0.lane(l);
        }
        if (L < 16) {
            for (int l = 0; l < L; l++) {
                s += acc1.lane(l);
            }
        }
        if (L < 8) {
            for (int l = 0; l < L; l++) {
                s += acc2.lane(l);
            }
            for (int l = 0; l < L; l++) {
                s += acc3.lane(l);
            }
        }
        for (int i = bound; i < n; i++) {
            s = Math.fma(a[aOff + i], b[bOff + i], s);
        }
        return s;
    }
}
