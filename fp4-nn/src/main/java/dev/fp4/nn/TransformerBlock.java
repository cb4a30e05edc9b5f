package dev.fp4.nn;

import dev.fp4.nn.StepProfile.Phase;
import java.util.ArrayList;
import java.util.List;

/**
 * A pre-norm LLaMA block: h = x + Attention(RMSNorm(x)); y = h + FFN(RMSNorm(h)).
 *
 * <p>Backward runs on one residual-gradient buffer in place: it holds dy on entry and dx on exit.
 */
public final class TransformerBlock implements SequenceLayer {
    private final int layer;
    private final LlamaConfig config;
    private final RMSNorm attnNorm;
    private final Attention attention;
    private final RMSNorm ffnNorm;
    private final FeedForward ffn;

    private float[] x;            // block input (a reference to the model's residual buffer)
    private float[] inv1 = new float[0];
    private float[] mid = new float[0];
    private float[] inv2 = new float[0];
    private final VectorOps.ParallelAdd residualAdd = new VectorOps.ParallelAdd();
    private int rows;
    private int batch;
    private int seq;
    /** Scratch of the public forward and backward (the model passes its shared one). */
    private Workspace own;

    /** Block number {@code layer} of a model with {@code config}, sharing the rotary tables. */
    public TransformerBlock(int layer, LlamaConfig config, Rope rope) {
        this.layer = layer;
        this.config = config;
        String p = "layers." + layer + ".";
        this.attnNorm = new RMSNorm(p + "attn_norm", config.dim(), config.normEps());
        this.attention = new Attention(p + "attn.", layer, config, rope);
        this.ffnNorm = new RMSNorm(p + "ffn_norm", config.dim(), config.normEps());
        this.ffn = new FeedForward(p + "ffn.", layer, config);
    }

    /** The block index. */
    public int layer() {
        return layer;
    }

    /** The attention sub-layer. */
    public Attention attention() {
        return attention;
    }

    /** The feed-forward sub-layer. */
    public FeedForward feedForward() {
        return ffn;
    }

    /** Parameters in a fixed order: attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3. */
    @Override
    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>();
        ps.add(attnNorm.weight());
        attention.linears().forEach(l -> ps.add(l.weight()));
        ps.add(ffnNorm.weight());
        ffn.linears().forEach(l -> ps.add(l.weight()));
        return ps;
    }

    /** The linear layers, attention first. */
    public List<Linear> linears() {
        List<Linear> ls = new ArrayList<>(attention.linears());
        ls.addAll(ffn.linears());
        return ls;
    }

    @Override
    public int inputWidth() {
        return config.dim();
    }

    @Override
    public int outputWidth() {
        return config.dim();
    }

    /** y = block(x), both [batch·seq, dim]; x must stay unchanged until the backward. */
    @Override
    public void forward(float[] x, float[] y, int batch, int seq) {
        if (batch <= 0 || seq <= 0) {
            throw new IllegalArgumentException("layers." + layer + ": batch and seq must be positive, got batch " + batch
                    + ", seq " + seq);
        }
        Checks.holds("layers." + layer, "x", x, (long) batch * seq, config.dim());
        Checks.holds("layers." + layer, "y", y, (long) batch * seq, config.dim());
        own = Workspace.ensure(own, config, batch, seq);
        forward(x, y, batch, seq, own);
    }

    /**
     * dx = dL/dx for dy = dL/dy of the last forward (dy is not changed); adds the parameter gradients.
     *
     * @throws IllegalStateException when no forward came before
     */
    @Override
    public void backward(float[] dy, float[] dx) {
        Checks.backward("layers." + layer, rows, config.dim(), dy, dx);
        own = Workspace.ensure(own, config, batch, seq);
        System.arraycopy(dy, 0, dx, 0, rows * config.dim());
        backward(dx, own);
    }

    /** y = block(x), both [batch·seq, dim]; x must stay unchanged until backward. */
    void forward(float[] x, float[] y, int batch, int seq, Workspace ws) {
        int n = batch * seq;
        this.batch = batch;
        this.seq = seq;
        long size = (long) n * config.dim();
        this.x = x;
        this.rows = n;
        inv1 = Workspace.grow(inv1, n);
        mid = Workspace.grow(mid, size);
        inv2 = Workspace.grow(inv2, n);
        int len = (int) size;                                // grow has bounded it
        // The normed inputs go to the shared ws.xn: the linear layers keep their own form of it
        // and the norms' backward reads x and mid, so no block keeps one.
        long t = StepProfile.start();
        attnNorm.forward(x, ws.xn, inv1, 0, n);
        StepProfile.lap(Phase.ELEMENTWISE, t);
        attention.forward(ws.xn, ws.tmp, batch, seq);
        t = StepProfile.start();
        residualAdd.run(x, 0, ws.tmp, 0, mid, 0, len);
        ffnNorm.forward(mid, ws.xn, inv2, 0, n);
        StepProfile.lap(Phase.ELEMENTWISE, t);
        ffn.forward(ws.xn, ws.tmp, n, ws);
        t = StepProfile.start();
        residualAdd.run(mid, 0, ws.tmp, 0, y, 0, len);
        StepProfile.lap(Phase.ELEMENTWISE, t);
    }

    /** {@code grad} holds dL/dy on entry and dL/dx on exit. */
    void backward(float[] grad, Workspace ws) {
        ffn.backward(grad, ws.dxn, ws);
        long t = StepProfile.start();
        ffnNorm.backward(mid, inv2, 0, ws.dxn, grad, rows);
        StepProfile.lap(Phase.ELEMENTWISE, t);
        attention.backward(grad, ws.dxn, ws);
        t = StepProfile.start();
        attnNorm.backward(x, inv1, 0, ws.dxn, grad, rows);
        StepProfile.lap(Phase.ELEMENTWISE, t);
    }
}
