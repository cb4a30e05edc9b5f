package dev.fp4.nn;

import dev.fp4.nn.StepProfile.Phase;
import dev.fp4.nn.recipe.LinearRole;
import java.util.List;

/**
 * Causal multi-head self-attention with rotary embeddings and optional grouped-query heads
 * (query head h reads key/value head h / (heads / kvHeads)).
 *
 * <p>Forward: q = x·Wqᵀ, k = x·Wkᵀ, v = x·Wvᵀ; RoPE on q and k; per (batch, head)
 * P = softmax(q·kᵀ / sqrt(d)) with the causal mask (row i sees keys 0..i); o = P·v; y = o·Woᵀ.
 * Backward per (batch, head): dP = do·vᵀ, dv += Pᵀ·do, dS = P ⊙ (dP − rowsum(P ⊙ dP)) / sqrt(d),
 * dq = dS·k, dk += dSᵀ·q; then the inverse rotation and the projections' backward.
 *
 * <p>The core (scores, softmax, weighted values) runs in {@link FlashAttention}: blocked over the
 * sequence, no T×T probability matrix is stored; the backward recomputes the scores from each
 * row's saved log-sum-exp. q, k, v, o stay in the projections' row layout [batch·seq, heads·d].
 */
public final class Attention implements SequenceLayer {
    private final LlamaConfig config;
    private final Rope rope;
    private final Linear wq;
    private final Linear wk;
    private final Linear wv;
    private final Linear wo;
    private final FlashAttention core;

    // Activations kept for backward, sized by (batch, seq).
    private float[] q = new float[0];
    private float[] k = new float[0];
    private float[] v = new float[0];
    private float[] o = new float[0];
    private float[] lse = new float[0];
    private int batch;
    private int seq;

    /** Scratch of the public {@link #backward(float[], float[])} (the model passes its shared one). */
    private Workspace own;

    /** The block's name for messages ("layers.N.attention"). */
    private final String owner;

    /** Attention of block {@code layer}; parameter names start with {@code prefix}. */
    public Attention(String prefix, int layer, LlamaConfig config, Rope rope) {
        this.config = config;
        this.rope = rope;
        int dim = config.dim();
        int kvDim = config.kvDim();
        this.owner = prefix.endsWith(".") ? prefix.substring(0, prefix.length() - 1) : prefix;
        this.wq = new Linear(prefix + "wq", LinearRole.ATTN_Q, layer, dim, dim);
        this.wk = new Linear(prefix + "wk", LinearRole.ATTN_K, layer, dim, kvDim);
        this.wv = new Linear(prefix + "wv", LinearRole.ATTN_V, layer, dim, kvDim);
        this.wo = new Linear(prefix + "wo", LinearRole.ATTN_O, layer, dim, dim);
        this.core = new FlashAttention(config.heads(), config.kvHeads(), config.headDim());
    }

    /** The projections in the order wq, wk, wv, wo. */
    public List<Linear> linears() {
        return List.of(wq, wk, wv, wo);
    }

    @Override
    public int inputWidth() {
        return config.dim();
    }

    @Override
    public int outputWidth() {
        return config.dim();
    }

    /** The projections' weights, wq, wk, wv, wo. */
    @Override
    public List<Parameter> parameters() {
        return List.of(wq.weight(), wk.weight(), wv.weight(), wo.weight());
    }

    /**
     * Backward from dy [batch·seq, dim] of the last forward: writes dx, adds the projections'
     * gradients.
     *
     * @throws IllegalStateException when no forward came before
     */
    @Override
    public void backward(float[] dy, float[] dx) {
        Checks.backward(owner, batch * seq, config.dim(), dy, dx);
        own = Workspace.ensure(own, config, batch, seq);
        backward(dy, dx, own);
    }

    void ensure(int batch, int seq) {
        int n = batch * seq;
        q = Workspace.grow(q, (long) n * config.dim());
        k = Workspace.grow(k, (long) n * config.kvDim());
        v = Workspace.grow(v, (long) n * config.kvDim());
        o = Workspace.grow(o, (long) n * config.dim());
        lse = Workspace.grow(lse, (long) n * config.heads());
    }

    /**
     * y[batch·seq, dim] = attention(x); keeps what backward needs.
     *
     * @throws IllegalArgumentException when batch or seq is not positive, seq exceeds maxSeq, or x
     *                                  or y is shorter than [batch·seq, dim] (y is unchanged then)
     */
    public void forward(float[] x, float[] y, int batch, int seq) {
        if (batch <= 0 || seq <= 0) {
            throw new IllegalArgumentException(owner + ": batch and seq must be positive, got batch " + batch + ", seq " + seq);
        }
        if (seq > config.maxSeq()) {
            throw new IllegalArgumentException(owner + ": seq " + seq + " exceeds maxSeq " + config.maxSeq());
        }
        Checks.holds(wq.weight().name(), "x", x, (long) batch * seq, config.dim());
        Checks.holds(owner, "y", y, (long) batch * seq, config.dim());
        ensure(batch, seq);
        this.batch = batch;
        this.seq = seq;
        int n = batch * seq;
        long t = StepProfile.start();
        wq.forward(x, q, n);
        wk.forward(x, k, n, wq); // same input: shares X̂ and ΔX with wq where the precisions allow
        wv.forward(x, v, n, wq);
        t = StepProfile.lap(Phase.LINEAR, t);
        rope.apply(q, n, seq, config.heads(), false);
        rope.apply(k, n, seq, config.kvHeads(), false);
        t = StepProfile.lap(Phase.ELEMENTWISE, t);
        core.forward(q, k, v, o, lse, batch, seq);
        t = StepProfile.lap(Phase.ATTENTION, t);
        wo.forward(o, y, n);
        StepProfile.lap(Phase.LINEAR, t);
    }

    /**
     * Backward from dy [batch·seq, dim]: writes the input gradient into {@code dx} and adds the
     * parameter gradients into the projections.
     */
    void backward(float[] dy, float[] dx, Workspace ws) {
        int n = batch * seq;
        long t = StepProfile.start();
        wo.backward(dy, ws.datt, false);
        t = StepProfile.lap(Phase.LINEAR, t);
        core.backward(q, k, v, o, lse, ws.datt, ws.dq, ws.dk, ws.dv, batch, seq);
        t = StepProfile.lap(Phase.ATTENTION, t);
        rope.apply(ws.dq, n, seq, config.heads(), true);
        rope.apply(ws.dk, n, seq, config.kvHeads(), true);
        t = StepProfile.lap(Phase.ELEMENTWISE, t);
        wq.backward(ws.dq, dx, false);
        wk.backward(ws.dk, dx, true);
        wv.backward(ws.dv, dx, true);
        StepProfile.lap(Phase.LINEAR, t);
    }
}
