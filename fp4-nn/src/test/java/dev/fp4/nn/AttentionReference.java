package dev.fp4.nn;

import dev.fp4.core.gemm.FloatGemm;
import java.util.Arrays;

/**
 * The attention core as the library computed it before {@link FlashAttention}: per (batch, head)
 * the whole T×T probability matrix through FloatGemm and {@link Softmax} (forward and backward
 * kept verbatim in structure), plus the same computation in double precision with plain loops.
 * Inputs are q [B·T, H·D], k, v [B·T, KV·D] (rotated already); outputs in the same layouts.
 */
final class AttentionReference {
    private AttentionReference() {
    }

    /** The previous FP32 implementation; returns {o, probs} (probs [B, H, T, T]). */
    static float[][] forward(float[] q, float[] k, float[] v, int batch, int seq, int heads, int kvHeads, int hd) {
        float scale = (float) (1.0 / Math.sqrt(hd));
        int n = batch * seq;
        float[] qh = new float[n * heads * hd];
        float[] kh = new float[n * kvHeads * hd];
        float[] vh = new float[n * kvHeads * hd];
        float[] oh = new float[n * heads * hd];
        float[] probs = new float[batch * heads * seq * seq];
        toHeadMajor(q, qh, batch, seq, heads, hd);
        toHeadMajor(k, kh, batch, seq, kvHeads, hd);
        toHeadMajor(v, vh, batch, seq, kvHeads, hd);
        int group = heads / kvHeads;
        int tt = seq * seq;
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int qOff = (b * heads + h) * seq * hd;
                int kvOff = (b * kvHeads + h / group) * seq * hd;
                int pOff = (b * heads + h) * tt;
                FloatGemm.matmulNT(qh, qOff, kh, kvOff, probs, pOff, seq, seq, hd, false);
                for (int i = 0; i < seq; i++) {
                    int row = pOff + i * seq;
                    Softmax.forward(probs, row, probs, row, i + 1, scale);
                    Arrays.fill(probs, row + i + 1, row + seq, 0f);
                }
                FloatGemm.matmulNN(probs, pOff, vh, kvOff, oh, qOff, seq, hd, seq, false);
            }
        }
        float[] o = new float[n * heads * hd];
        fromHeadMajor(oh, o, batch, seq, heads, hd);
        return new float[][] {o, probs};
    }

    /** The previous FP32 backward; returns {dq, dk, dv}. */
    static float[][] backward(float[] q, float[] k, float[] v, float[] probs, float[] dout, int batch, int seq,
                              int heads, int kvHeads, int hd) {
        float scale = (float) (1.0 / Math.sqrt(hd));
        int n = batch * seq;
        float[] qh = new float[n * heads * hd];
        float[] kh = new float[n * kvHeads * hd];
        float[] vh = new float[n * kvHeads * hd];
        float[] doh = new float[n * heads * hd];
        float[] dqh = new float[n * heads * hd];
        float[] dkh = new float[n * kvHeads * hd];
        float[] dvh = new float[n * kvHeads * hd];
        float[] ds = new float[seq * seq];
        toHeadMajor(q, qh, batch, seq, heads, hd);
        toHeadMajor(k, kh, batch, seq, kvHeads, hd);
        toHeadMajor(v, vh, batch, seq, kvHeads, hd);
        toHeadMajor(dout, doh, batch, seq, heads, hd);
        int group = heads / kvHeads;
        int tt = seq * seq;
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int qOff = (b * heads + h) * seq * hd;
                int kvOff = (b * kvHeads + h / group) * seq * hd;
                int pOff = (b * heads + h) * tt;
                FloatGemm.matmulNT(doh, qOff, vh, kvOff, ds, 0, seq, seq, hd, false);
                FloatGemm.matmulTN(probs, pOff, doh, qOff, dvh, kvOff, seq, hd, seq, true);
                for (int i = 0; i < seq; i++) {
                    Softmax.backward(probs, pOff + i * seq, ds, i * seq, ds, i * seq, i + 1, scale);
                    Arrays.fill(ds, i * seq + i + 1, (i + 1) * seq, 0f);
                }
                FloatGemm.matmulNN(ds, 0, kh, kvOff, dqh, qOff, seq, hd, seq, false);
                FloatGemm.matmulTN(ds, 0, qh, qOff, dkh, kvOff, seq, hd, seq, true);
            }
        }
        float[] dq = new float[n * heads * hd];
        float[] dk = new float[n * kvHeads * hd];
        float[] dv = new float[n * kvHeads * hd];
        fromHeadMajor(dqh, dq, batch, seq, heads, hd);
        fromHeadMajor(dkh, dk, batch, seq, kvHeads, hd);
        fromHeadMajor(dvh, dv, batch, seq, kvHeads, hd);
        return new float[][] {dq, dk, dv};
    }

    /** Double precision: returns {o, dq, dk, dv} for upstream gradient dout. */
    static double[][] exact(float[] q, float[] k, float[] v, float[] dout, int batch, int seq, int heads, int kvHeads,
                            int hd) {
        int group = heads / kvHeads;
        double scale = 1 / Math.sqrt(hd);
        int ldq = heads * hd;
        int ldk = kvHeads * hd;
        double[] o = new double[batch * seq * ldq];
        double[] dq = new double[o.length];
        double[] dk = new double[batch * seq * ldk];
        double[] dv = new double[dk.length];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int kvh = h / group;
                for (int i = 0; i < seq; i++) {
                    int qi = (b * seq + i) * ldq + h * hd;
                    double[] p = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        int kj = (b * seq + j) * ldk + kvh * hd;
                        double dot = 0;
                        for (int e = 0; e < hd; e++) {
                            dot += (double) q[qi + e] * k[kj + e];
                        }
                        p[j] = dot * scale;
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        p[j] = Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    double[] dp = new double[i + 1];
                    double pdp = 0;
                    for (int j = 0; j <= i; j++) {
                        p[j] /= sum;
                        int vj = (b * seq + j) * ldk + kvh * hd;
                        for (int e = 0; e < hd; e++) {
                            o[qi + e] += p[j] * v[vj + e];
                            dp[j] += (double) dout[qi + e] * v[vj + e];
                            dv[vj + e] += p[j] * dout[qi + e];
                        }
                        pdp += p[j] * dp[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        double dsj = p[j] * (dp[j] - pdp) * scale;
                        int kj = (b * seq + j) * ldk + kvh * hd;
                        for (int e = 0; e < hd; e++) {
                            dq[qi + e] += dsj * k[kj + e];
                            dk[kj + e] += dsj * q[qi + e];
                        }
                    }
                }
            }
        }
        return new double[][] {o, dq, dk, dv};
    }

    /** [batch, seq, heads, hd] → [batch, heads, seq, hd]. */
    static void toHeadMajor(float[] src, float[] dst, int batch, int seq, int heads, int hd) {
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seq; t++) {
                for (int h = 0; h < heads; h++) {
                    System.arraycopy(src, ((b * seq + t) * heads + h) * hd, dst, ((b * heads + h) * seq + t) * hd, hd);
                }
            }
        }
    }

    /** [batch, heads, seq, hd] → [batch, seq, heads, hd]. */
    static void fromHeadMajor(float[] src, float[] dst, int batch, int seq, int heads, int hd) {
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seq; t++) {
                for (int h = 0; h < heads; h++) {
                    System.arraycopy(src, ((b * heads + h) * seq + t) * hd, dst, ((b * seq + t) * heads + h) * hd, hd);
                }
            }
        }
    }
}
