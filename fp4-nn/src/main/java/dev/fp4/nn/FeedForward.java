package dev.fp4.nn;

import dev.fp4.nn.StepProfile.Phase;
import dev.fp4.nn.recipe.LinearRole;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * SwiGLU feed-forward: y = W2 · (silu(W1·x) ⊙ W3·x), with W1 the gate, W3 the up and W2 the down
 * projection.
 */
public final class FeedForward implements SequenceLayer {
    private final LlamaConfig config;
    private final Linear w1;
    private final Linear w3;
    private final Linear w2;

    private float[] g = new float[0];
    private float[] u = new float[0];
    /** The SwiGLU product of the running forward (a workspace's h: the down projection keeps its own form). */
    private float[] h;
    private int rows;
    private final String owner;
    /** The workspace of the running backward (its dh, dg, du), for {@link #swigluBackward}. */
    private Workspace backwardWs;
    /** Scratch of the public {@link #backward(float[], float[])} (the model passes its shared one). */
    private Workspace own;
    // The SwiGLU loops over chunks of the rows·ffnDim elements, bound once: a capturing lambda
    // would allocate at every call.
    private final IntConsumer swigluForward = this::swigluForwardChunk;
    private final IntConsumer swigluBackward = this::swigluBackwardChunk;

    /** The feed-forward of block {@code layer}; parameter names start with {@code prefix}. */
    public FeedForward(String prefix, int layer, LlamaConfig config) {
        this.config = config;
        this.w1 = new Linear(prefix + "w1", LinearRole.FFN_GATE, layer, config.dim(), config.ffnDim());
        this.w3 = new Linear(prefix + "w3", LinearRole.FFN_UP, layer, config.dim(), config.ffnDim());
        this.w2 = new Linear(prefix + "w2", LinearRole.FFN_DOWN, layer, config.ffnDim(), config.dim());
        this.owner = prefix.endsWith(".") ? prefix.substring(0, prefix.length() - 1) : prefix;
    }

    /** The projections in the order w1 (gate), w2 (down), w3 (up). */
    public List<Linear> linears() {
        return List.of(w1, w2, w3);
    }

    void ensure(int n) {
        g = Workspace.grow(g, (long) n * config.ffnDim());
        u = Workspace.grow(u, (long) n * config.ffnDim());
    }

    /**
     * y[rows, dim] = ffn(x[rows, dim]); keeps what backward needs.
     *
     * @throws IllegalArgumentException when rows is not positive or x or y is shorter than
     *                                  [rows, dim] (y is unchanged then)
     */
    public void forward(float[] x, float[] y, int rows) {
        Checks.positiveRows(owner, rows);
        Checks.holds(w1.weight().name(), "x", x, rows, config.dim());
        Checks.holds(owner, "y", y, rows, config.dim());
        own = Workspace.ensure(own, config, 1, rows);
        forward(x, y, rows, own);
    }

    /** As {@link #forward(float[], float[], int)} (arguments checked), the SwiGLU product in ws.h. */
    void forward(float[] x, float[] y, int rows, Workspace ws) {
        ensure(rows);
        h = ws.h;
        this.rows = rows;
        long t = StepProfile.start();
        w1.forward(x, g, rows);
        w3.forward(x, u, rows, w1); // same input: shares X̂ and ΔX with w1 where the precisions allow
        t = StepProfile.lap(Phase.LINEAR, t);
        int n = rows * config.ffnDim();
        Parallel.forEach((n + VectorOps.CHUNK - 1) / VectorOps.CHUNK, swigluForward);
        t = StepProfile.lap(Phase.ELEMENTWISE, t);
        w2.forward(h, y, rows);
        h = null;
        StepProfile.lap(Phase.LINEAR, t);
    }

    @Override
    public int inputWidth() {
        return config.dim();
    }

    @Override
    public int outputWidth() {
        return config.dim();
    }

    /** The weights, in the order of {@link #linears()}. */
    @Override
    public List<Parameter> parameters() {
        return linears().stream().map(Linear::weight).toList();
    }

    /** As {@link #forward(float[], float[], int)} with rows = batch·seq (the rows are independent). */
    @Override
    public void forward(float[] x, float[] y, int batch, int seq) {
        if (batch <= 0 || seq <= 0) {
            throw new IllegalArgumentException(owner + ": batch and seq must be positive, got batch " + batch + ", seq " + seq);
        }
        forward(x, y, Math.multiplyExact(batch, seq));
    }

    /**
     * Backward from dy [rows, dim] of the last forward: writes dx, adds the weights' gradients.
     *
     * @throws IllegalStateException when no forward came before
     */
    @Override
    public void backward(float[] dy, float[] dx) {
        Checks.backward(owner, rows, config.dim(), dy, dx);
        own = Workspace.ensure(own, config, 1, rows);
        backward(dy, dx, own);
    }

    /** Writes the input gradient into dx; adds parameter gradients. */
    void backward(float[] dy, float[] dx, Workspace ws) {
        long t = StepProfile.start();
        w2.backward(dy, ws.dh, false);
        t = StepProfile.lap(Phase.LINEAR, t);
        int n = rows * config.ffnDim();
        backwardWs = ws;
        Parallel.forEach((n + VectorOps.CHUNK - 1) / VectorOps.CHUNK, swigluBackward);
        backwardWs = null;
        t = StepProfile.lap(Phase.ELEMENTWISE, t);
        w1.backward(ws.dg, dx, false);
        w3.backward(ws.du, dx, true);
        StepProfile.lap(Phase.LINEAR, t);
    }

    /** h = SwiGLU(g, u) over chunk c of the forward's rows·ffnDim elements. */
    private void swigluForwardChunk(int c) {
        int n = rows * config.ffnDim();
        int i = c * VectorOps.CHUNK;
        SwiGLU.forward(g, i, u, i, h, i, Math.min(VectorOps.CHUNK, n - i));
    }

    /** dg, du from dh over chunk c (the workspace of the running backward). */
    private void swigluBackwardChunk(int c) {
        int n = rows * config.ffnDim();
        int i = c * VectorOps.CHUNK;
        Workspace ws = backwardWs;
        SwiGLU.backward(g, i, u, i, ws.dh, i, ws.dg, i, ws.du, i, Math.min(VectorOps.CHUNK, n - i));
    }
}
