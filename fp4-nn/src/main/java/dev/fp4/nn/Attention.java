package dev.fp4.nn;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.nn.recipe.LinearRole;
import java.util.Arrays;
import java.util.List;

/**
 * Causal multi-head self-attention with rotary embeddings and optional grouped-query heads
 * (query head h reads key/value head h / (heads / kvHeads)).
 *
 * <p>Forward: q = x·Wqᵀ, k = x·Wkᵀ, v = x·Wvᵀ; RoPE on q and k; per (batch, head)
 * P = softmax(q·kᵀ / sqrt(d)) with the causal mask (row i sees keys 0..i); o = P·v; y = o·Woᵀ.
 * Backward per (batch, head): dP = do·vᵀ, dv += Pᵀ·do, dS = P ⊙ (dP − rowsum(P ⊙ dP)) / sqrt(d),
 * dq = dS·k, dk += dSᵀ·q; then the inverse rotation and the projections' backward.
 */
public final class Attention {
    private final LlamaConfig config;
    private final Rope rope;
    private final Linear wq;
    private final Linear wk;
    private final Linear wv;
    private final Linear wo;
    private final float scale;

    // Activations kept for backward, sized by (batch, seq).
    private float[] q = new float[0];
    private float[] k = new float[0];
    private float[] v = new float[0];
    private float[] qh = new float[0];
    private float[] kh = new float[0];
    private float[] vh = new float[0];
    private float[] probs = new float[0];
    private float[] oh = new float[0];
    private float[] o = new float[0];
    private int batch;
    private int seq;

    /** Attention of block {@code layer}; parameter names start with {@code prefix}. */
    public Attention(String prefix, int layer, LlamaConfig config, Rope rope) {
        this.config = config;
        this.rope = rope;
        int dim = config.dim();
        int kvDim = config.kvDim();
        this.wq = new Linear(prefix + "wq", LinearRole.ATTN_Q, layer, dim, dim);
        this.wk = new Linear(prefix + "wk", LinearRole.ATTN_K, layer, dim, kvDim);
        this.wv = new Linear(prefix + "wv", LinearRole.ATTN_V, layer, dim, kvDim);
        this.wo = new Linear(prefix + "wo", LinearRole.ATTN_O, layer, dim, dim);
        this.scale = (float) (1.0 / Math.sqrt(config.headDim()));
    }

    /** The projections in the order wq, wk, wv, wo. */
    public List<Linear> linears() {
        return List.of(wq, wk, wv, wo);
    }

    void ensure(int batch, int seq) {
        int n = batch * seq;
        q = Workspace.grow(q, (long) n * config.dim());
        k = Workspace.grow(k, (long) n * config.kvDim());
        v = Workspace.grow(v, (long) n * config.kvDim());
        qh = Workspace.grow(qh, (long) n * config.dim());
        kh = Workspace.grow(kh, (long) n * config.kvDim());
        vh = Workspace.grow(vh, (long) n * config.kvDim());
        probs = Workspace.grow(probs, (long) batch * config.heads() * seq * seq);
        oh = Workspace.grow(oh, (long) n * config.dim());
        o = Workspace.grow(o, (long) n * config.dim());
    }

    /** y[batch·seq, dim] = attention(x); keeps what backward needs. */
    public void forward(float[] x, float[] y, int batch, int seq) {
        ensure(batch, seq);
        this.batch = batch;
        this.seq = seq;
        int n = batch * seq;
        int heads = config.heads();
        int kvHeads = config.kvHeads();
        int hd = config.headDim();
        wq.forward(x, q, n);
        wk.forward(x, k, n);
        wv.forward(x, v, n);
        rope.apply(q, n, seq, heads, false);
        rope.apply(k, n, seq, kvHeads, false);
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
        fromHeadMajor(oh, o, batch, seq, heads, hd);
        wo.forward(o, y, n);
    }

    /**
     * Backward from dy [batch·seq, dim]: writes the input gradient into {@code dx} and adds the
     * parameter gradients into the projections.
     */
    void backward(float[] dy, float[] dx, Workspace ws) {
        int n = batch * seq;
        int heads = config.heads();
        int kvHeads = config.kvHeads();
        int hd = config.headDim();
        int group = heads / kvHeads;
        int tt = seq * seq;
        wo.backward(dy, ws.datt, false);
        toHeadMajor(ws.datt, ws.doh, batch, seq, heads, hd);
        Arrays.fill(ws.dkh, 0, n * config.kvDim(), 0f);
        Arrays.fill(ws.dvh, 0, n * config.kvDim(), 0f);
        float[] ds = ws.ds;
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int qOff = (b * heads + h) * seq * hd;
                int kvOff = (b * kvHeads + h / group) * seq * hd;
                int pOff = (b * heads + h) * tt;
                // dP = dO·Vᵀ, then dS in place; dV += Pᵀ·dO.
                FloatGemm.matmulNT(ws.doh, qOff, vh, kvOff, ds, 0, seq, seq, hd, false);
                FloatGemm.matmulTN(probs, pOff, ws.doh, qOff, ws.dvh, kvOff, seq, hd, seq, true);
                for (int i = 0; i < seq; i++) {
                    Softmax.backward(probs, pOff + i * seq, ds, i * seq, ds, i * seq, i + 1, scale);
                    Arrays.fill(ds, i * seq + i + 1, (i + 1) * seq, 0f);
                }
                FloatGemm.matmulNN(ds, 0, kh, kvOff, ws.dqh, qOff, seq, hd, seq, false);
                FloatGemm.matmulTN(ds, 0, qh, qOff, ws.dkh, kvOff, seq, hd, seq, true);
            }
        }
        fromHeadMajor(ws.dqh, ws.dq, batch, seq, heads, hd);
        fromHeadMajor(ws.dkh, ws.dk, batch, seq, kvHeads, hd);
        fromHeadMajor(ws.dvh, ws.dv, batch, seq, kvHeads, hd);
        rope.apply(ws.dq, n, seq, heads, true);
        rope.apply(ws.dk, n, seq, kvHeads, true);
        wq.backward(ws.dq, dx, false);
        wk.backward(ws.dk, dx, true);
        wv.backward(ws.dv, dx, true);
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
