package dev.fp4.nn;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link RMSNorm}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class RMSNormPanama {
    private RMSNormPanama() {
    }

    static final VectorSpecies<Float> S = PanamaSimd.FLOAT;
    static final int L = S.length();

    /** {@link #weightGradient} over the whole vectors of [c0, c1); returns the first column left. */
    static int weightGradientVector(float[] x, float[] inv, int invOff, float[] dy, float[] dw, int rows, int dim,
                                    int c0, int c1) {
        int c = c0;
        for (int bound = c0 + S.loopBound(c1 - c0); c < bound; c += L) {
            FloatVector acc = FloatVector.fromArray(S, dw, c);
            for (int r = 0; r < rows; r++) {
                int o = r * dim + c;
                acc = acc.add(FloatVector.fromArray(S, dy, o).mul(FloatVector.fromArray(S, x, o).mul(inv[invOff + r])));
            }
            acc.intoArray(dw, c);
        }
        return c;
    }

    /** {@link #backwardRowDx} over the whole vectors of dim, with c = r³·gx/dim; returns the first element left. */
    static int backwardRowDxVector(float[] x, int xOff, float[] w, float r, float c, float[] dy, int dyOff,
                                   float[] dx, int dxOff, int dim, boolean accumulate) {
        int i = 0;
        for (int bound = S.loopBound(dim); i < bound; i += L) {
            FloatVector xv = FloatVector.fromArray(S, x, xOff + i);
            FloatVector g = FloatVector.fromArray(S, dy, dyOff + i).mul(FloatVector.fromArray(S, w, i));
            FloatVector d = g.mul(r).sub(xv.mul(c));
            if (accumulate) {
                d = FloatVector.fromArray(S, dx, dxOff + i).add(d);
            }
            d.intoArray(dx, dxOff + i);
        }
        return i;
    }

    /** Σ (dy·w)·x in the canonical order of {@link VectorOps} (the vector twin of dot3Scalar). */
    static float dot3Vector(float[] dy, int dyOff, float[] w, float[] x, int xOff, int dim) {
        FloatVector acc0 = FloatVector.zero(S);
        FloatVector acc1 = FloatVector.zero(S);
        FloatVector acc2 = FloatVector.zero(S);
        FloatVector acc3 = FloatVector.zero(S);
        int bound16 = dim - dim % VectorOps.PARTIALS;
        for (int i = 0; i < bound16; i += VectorOps.PARTIALS) {
            acc0 = FloatVector.fromArray(S, dy, dyOff + i).mul(FloatVector.fromArray(S, w, i))
                    .fma(FloatVector.fromArray(S, x, xOff + i), acc0);
            if (L < 16) {
                int j = i + L;
                acc1 = FloatVector.fromArray(S, dy, dyOff + j).mul(FloatVector.fromArray(S, w, j))
                        .fma(FloatVector.fromArray(S, x, xOff + j), acc1);
            }
            if (L < 8) {
                int j = i + 2 * L;
                acc2 = FloatVector.fromArray(S, dy, dyOff + j).mul(FloatVector.fromArray(S, w, j))
                        .fma(FloatVector.fromArray(S, x, xOff + j), acc2);
                j = i + 3 * L;
                acc3 = FloatVector.fromArray(S, dy, dyOff + j).mul(FloatVector.fromArray(S, w, j))
                        .fma(FloatVector.fromArray(S, x, xOff + j), acc3);
            }
        }
        float gx = 0f;
        for (int l = 0; l < L; l++) {
            gx += acc0.lane(l);
        }
        if (L < 16) {
            for (int l = 0; l < L; l++) {
                gx += acc1.lane(l);
            }
        }
        if (L < 8) {
            for (int l = 0; l < L; l++) {
                gx += acc2.lane(l);
            }
            for (int l = 0; l < L; l++) {
                gx += acc3.lane(l);
            }
        }
        for (int i = bound16; i < dim; i++) {
            gx = Math.fma(dy[dyOff + i] * w[i], x[xOff + i], gx);
        }
        return gx;
    }

    static void scaleVector(float[] x, int xOff, float[] w, float r, float[] y, int yOff, int dim) {
        int i = 0;
        for (int bound = S.loopBound(dim); i < bound; i += L) {
            FloatVector.fromArray(S, x, xOff + i).mul(r).mul(FloatVector.fromArray(S, w, i)).intoArray(y, yOff + i);
        }
        for (; i < dim; i++) {
            y[yOff + i] = x[xOff + i] * r * w[i];
        }
    }

    static void backwardRowVector(float[] x, int xOff, float[] w, float r, float[] dy, int dyOff,
                                  float[] dx, int dxOff, float[] dw, int dim, boolean accumulate) {
        float gx = dot3Vector(dy, dyOff, w, x, xOff, dim); // g·x in the canonical order of VectorOps
        float c = r * r * r * gx / dim;
        int i = 0;
        for (int bound = S.loopBound(dim); i < bound; i += L) {
            FloatVector xv = FloatVector.fromArray(S, x, xOff + i);
            FloatVector dyv = FloatVector.fromArray(S, dy, dyOff + i);
            FloatVector g = dyv.mul(FloatVector.fromArray(S, w, i));
            FloatVector d = g.mul(r).sub(xv.mul(c));
            if (accumulate) {
                d = FloatVector.fromArray(S, dx, dxOff + i).add(d);
            }
            d.intoArray(dx, dxOff + i);
            FloatVector.fromArray(S, dw, i).add(dyv.mul(xv.mul(r))).intoArray(dw, i);
        }
        for (; i < dim; i++) {
            float xi = x[xOff + i];
            float dyi = dy[dyOff + i];
            float d = dyi * w[i] * r - xi * c;
            dx[dxOff + i] = accumulate ? dx[dxOff + i] + d : d;
            dw[i] = dw[i] + dyi * (xi * r);
        }
    }
}
