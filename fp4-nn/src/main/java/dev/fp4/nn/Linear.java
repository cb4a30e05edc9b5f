package dev.fp4.nn;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.nn.recipe.LinearRole;
import java.util.Objects;

/**
 * A bias-free linear layer, Y = X·Wᵀ with W laid out [out, in]. Backward: dX = dY·W,
 * dW += dYᵀ·X. The forward input is kept by reference (it lives in the caller's activation
 * buffers) for the weight gradient.
 */
public final class Linear {
    private final Parameter weight;
    private final LinearRole role;
    private final int layer;
    private final int in;
    private final int out;

    private float[] x;
    private int rows = -1;

    /** A layer with a new zero weight [out, in] named {@code name}. */
    public Linear(String name, LinearRole role, int layer, int in, int out) {
        this(new Parameter(name, out, in), role, layer);
    }

    /** A layer over an existing weight [out, in] (e.g. the tied embedding table). */
    public Linear(Parameter weight, LinearRole role, int layer) {
        this.weight = Objects.requireNonNull(weight, "weight");
        int[] shape = weight.shape();
        if (shape.length != 2) {
            throw new IllegalArgumentException(weight.name() + ": a linear weight must be 2-D, got " + weight);
        }
        this.role = Objects.requireNonNull(role, "role");
        this.layer = layer;
        this.out = shape[0];
        this.in = shape[1];
    }

    /** The weight [out, in]. */
    public Parameter weight() {
        return weight;
    }

    /** The layer's role. */
    public LinearRole role() {
        return role;
    }

    /** Index of the transformer block, or -1 outside the blocks (LM head). */
    public int layer() {
        return layer;
    }

    /** Input features. */
    public int in() {
        return in;
    }

    /** Output features. */
    public int out() {
        return out;
    }

    /** y[rows, out] = x[rows, in] · Wᵀ; keeps a reference to x for backward. */
    public void forward(float[] x, float[] y, int rows) {
        this.x = x;
        this.rows = rows;
        FloatGemm.matmulNT(x, 0, weight.data(), 0, y, 0, rows, out, in, false);
    }

    /**
     * Adds dYᵀ·X into the weight gradient and, when {@code dx} is not null, writes (or adds, when
     * {@code accumulateDx}) dY·W into dx [rows, in].
     */
    public void backward(float[] dy, float[] dx, boolean accumulateDx) {
        if (rows < 0) {
            throw new IllegalStateException(weight.name() + ": backward() without a forward()");
        }
        if (dx != null) {
            FloatGemm.matmulNN(dy, 0, weight.data(), 0, dx, 0, rows, in, out, accumulateDx);
        }
        FloatGemm.matmulTN(dy, 0, x, 0, weight.grad(), 0, out, in, rows, true);
    }
}
