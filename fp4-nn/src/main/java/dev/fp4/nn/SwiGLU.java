package dev.fp4.nn;

import dev.fp4.core.simd.Simd;
import java.util.Objects;

/**
 * The SwiGLU gate: h = silu(g) ⊙ u with silu(g) = g·σ(g), σ(g) = 1 / (1 + e^(−g)).
 *
 * <p>Backward: dg = dh ⊙ u ⊙ σ(g)·(1 + g·(1 − σ(g))), du = dh ⊙ g·σ(g). The exponential is
 * {@link VectorOps#exp(float)}, so the vector and scalar kernels agree bit for bit.
 */
public final class SwiGLU {

    private SwiGLU() {
    }

    /**
     * h = silu(g) ⊙ u over n elements; h must not alias g or u.
     *
     * @throws IndexOutOfBoundsException when a range [off, off + n) does not fit its array (nothing is written then)
     */
    public static void forward(float[] g, int gOff, float[] u, int uOff, float[] h, int hOff, int n) {
        Objects.checkFromIndexSize(gOff, n, g.length);
        Objects.checkFromIndexSize(uOff, n, u.length);
        Objects.checkFromIndexSize(hOff, n, h.length);
        VectorOps.expAffine(g, gOff, h, hOff, n, 0f, -1f); // h = e^(−g)
        if (Simd.ENABLED) {
            SwiGLUPanama.forwardVector(g, gOff, u, uOff, h, hOff, n);
        } else {
            forwardScalar(g, gOff, u, uOff, h, hOff, n);
        }
    }

    static void forwardScalar(float[] g, int gOff, float[] u, int uOff, float[] h, int hOff, int n) {
        for (int i = 0; i < n; i++) {
            float sig = 1f / (h[hOff + i] + 1f);
            h[hOff + i] = g[gOff + i] * sig * u[uOff + i];
        }
    }

    /**
     * Writes dg and du (not accumulated) from g, u and dh; dg and du must not alias the inputs.
     *
     * @throws IndexOutOfBoundsException when a range [off, off + n) does not fit its array (nothing is written then)
     */
    public static void backward(float[] g, int gOff, float[] u, int uOff, float[] dh, int dhOff,
                                float[] dg, int dgOff, float[] du, int duOff, int n) {
        Objects.checkFromIndexSize(gOff, n, g.length);
        Objects.checkFromIndexSize(uOff, n, u.length);
        Objects.checkFromIndexSize(dhOff, n, dh.length);
        Objects.checkFromIndexSize(dgOff, n, dg.length);
        Objects.checkFromIndexSize(duOff, n, du.length);
        VectorOps.expAffine(g, gOff, dg, dgOff, n, 0f, -1f); // dg = e^(−g) for now
        if (Simd.ENABLED) {
            SwiGLUPanama.backwardVector(g, gOff, u, uOff, dh, dhOff, dg, dgOff, du, duOff, n);
        } else {
            backwardScalar(g, gOff, u, uOff, dh, dhOff, dg, dgOff, du, duOff, n);
        }
    }

    static void backwardScalar(float[] g, int gOff, float[] u, int uOff, float[] dh, int dhOff,
                               float[] dg, int dgOff, float[] du, int duOff, int n) {
        for (int i = 0; i < n; i++) {
            backwardOne(g, gOff + i, u, uOff + i, dh, dhOff + i, dg, dgOff + i, du, duOff + i);
        }
    }

    static void backwardOne(float[] g, int gi, float[] u, int ui, float[] dh, int dhi,
                                    float[] dg, int dgi, float[] du, int dui) {
        float gv = g[gi];
        float sig = 1f / (dg[dgi] + 1f);
        float dsilu = sig * (gv * (1f - sig) + 1f);
        dg[dgi] = dh[dhi] * u[ui] * dsilu;
        du[dui] = dh[dhi] * (gv * sig);
    }
}
