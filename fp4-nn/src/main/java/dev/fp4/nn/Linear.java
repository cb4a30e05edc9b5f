package dev.fp4.nn;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.nn.recipe.GemmPrecision;
import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.OperandFormat;
import dev.fp4.nn.recipe.Quantizer;
import java.util.Objects;

/**
 * A bias-free linear layer, Y = X·Wᵀ with W laid out [out, in], whose three GeMMs follow a
 * {@link LinearPrecision}:
 * <ul>
 *   <li>forward: X̂ = Qa(X), Ŵ = Qb(W), Y = X̂·Ŵᵀ;
 *   <li>data gradient: dX = Q(dY)·Q(Ŵ);
 *   <li>weight gradient: dŴ = Q(dY)ᵀ·Q(X̂), dW += dŴ ⊙ f'(W·sf) (f' the estimator's derivative on the
 *       scaled weights when the forward weight format is FP4, else dW += dŴ).
 * </ul>
 * With every operand FP32 the GeMMs run straight on the operands (matmulNT, matmulNN, matmulTN).
 * Otherwise each operand is brought into the GeMM-compatible layout [·, K] (K the reduction
 * dimension; a transpose where needed), fake-quantized into a reusable buffer and multiplied with
 * matmulNT. The forward input is kept by reference (it lives in the caller's activation buffers),
 * or as X̂ in this layer's buffer when it is quantized.
 */
public final class Linear {
    private final Parameter weight;
    private final LinearRole role;
    private final int layer;
    private final int in;
    private final int out;
    private LinearScratch scratch = new LinearScratch();

    private LinearPrecision precision = LinearPrecision.FP32;
    private Quantizer fwdA;
    private Quantizer fwdB;
    private Quantizer dgA;
    private Quantizer dgB;
    private Quantizer wgA;
    private Quantizer wgB;
    private float[] xq = new float[0];
    private float[] wq = new float[0];
    private float[] wScaled = new float[0];
    private long calls;

    private float[] xhat;
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

    /** The precision in force. */
    public LinearPrecision precision() {
        return precision;
    }

    /** Sets the precision of the next forward and backward (new quantizers only when it changes). */
    public void setPrecision(LinearPrecision p) {
        Objects.requireNonNull(p, "precision");
        if (p.equals(precision)) {
            return;
        }
        precision = p;
        fwdA = quantizer(p.forward().a());
        fwdB = quantizer(p.forward().b());
        dgA = quantizer(p.dataGrad().a());
        dgB = quantizer(p.dataGrad().b());
        wgA = quantizer(p.weightGrad().a());
        wgB = quantizer(p.weightGrad().b());
        rows = -1; // a backward must follow a forward under the same precision
    }

    void shareScratch(LinearScratch s) {
        this.scratch = Objects.requireNonNull(s);
    }

    private static Quantizer quantizer(OperandFormat f) {
        return f.isIdentity() ? null : f.newQuantizer();
    }

    private long stream(int operand) {
        // Distinct, reproducible streams for stochastic rounding: (role, layer, call, operand).
        return ((((long) role.ordinal() * 4099 + (layer + 1)) * 1_000_003L + calls) << 3) | operand;
    }

    /** y[rows, out] = X̂·Ŵᵀ for x[rows, in]; keeps X̂ (or a reference to x) for backward. */
    public void forward(float[] x, float[] y, int rows) {
        calls++;
        float[] a = x;
        if (fwdA != null) {
            xq = Workspace.grow(xq, (long) rows * in);
            fwdA.quantize(x, 0, rows, in, xq, 0, stream(0));
            a = xq;
        }
        float[] b = weight.data();
        if (fwdB != null) {
            wq = Workspace.grow(wq, (long) out * in);
            fwdB.quantize(b, 0, out, in, wq, 0, stream(1));
            b = wq;
            if (!precision.estimator().isIdentity()) {
                wScaled = Workspace.grow(wScaled, (long) out * in);
                fwdB.scaledValues(weight.data(), 0, wScaled, 0);
            }
        }
        FloatGemm.matmulNT(a, 0, b, 0, y, 0, rows, out, in, false);
        this.xhat = a;
        this.rows = rows;
    }

    /**
     * Adds the weight gradient into {@code weight().grad()} and, when {@code dx} is not null, writes
     * (or adds, when {@code accumulateDx}) the input gradient into dx [rows, in].
     */
    public void backward(float[] dy, float[] dx, boolean accumulateDx) {
        if (rows < 0) {
            throw new IllegalStateException(weight.name() + ": backward() without a forward() under this precision");
        }
        float[] w = fwdB != null ? wq : weight.data();
        if (dx != null) {
            dataGradient(dy, w, dx, accumulateDx);
        }
        weightGradient(dy);
    }

    private void dataGradient(float[] dy, float[] w, float[] dx, boolean accumulate) {
        GemmPrecision g = precision.dataGrad();
        if (g.isIdentity()) {
            FloatGemm.matmulNN(dy, 0, w, 0, dx, 0, rows, in, out, accumulate);
            return;
        }
        LinearScratch s = scratch.ensure((long) rows * out, (long) in * out);
        float[] a = dy;
        if (dgA != null) {
            dgA.quantize(dy, 0, rows, out, s.a, 0, stream(2));
            a = s.a;
        }
        transpose(w, out, in, s.b);          // Ŵᵀ [in, out]
        if (dgB != null) {
            dgB.quantize(s.b, 0, in, out, s.b, 0, stream(3));
        }
        FloatGemm.matmulNT(a, 0, s.b, 0, dx, 0, rows, in, out, accumulate);
    }

    private void weightGradient(float[] dy) {
        GemmPrecision g = precision.weightGrad();
        boolean estimate = fwdB != null && !precision.estimator().isIdentity();
        float[] target = weight.grad();
        if (estimate) {
            scratch.ensureDw((long) out * in);
            target = scratch.dw;
        }
        if (g.isIdentity()) {
            FloatGemm.matmulTN(dy, 0, xhat, 0, target, 0, out, in, rows, !estimate);
        } else {
            LinearScratch s = scratch.ensure((long) out * rows, (long) in * rows);
            transpose(dy, rows, out, s.a);     // dYᵀ [out, rows]
            transpose(xhat, rows, in, s.b);    // X̂ᵀ [in, rows]
            if (wgA != null) {
                wgA.quantize(s.a, 0, out, rows, s.a, 0, stream(4));
            }
            if (wgB != null) {
                wgB.quantize(s.b, 0, in, rows, s.b, 0, stream(5));
            }
            FloatGemm.matmulNT(s.a, 0, s.b, 0, target, 0, out, in, rows, !estimate);
        }
        if (estimate) {
            float[] grad = weight.grad();
            var est = precision.estimator();
            for (int i = 0, n = out * in; i < n; i++) {
                grad[i] += target[i] * est.derivative(wScaled[i]);
            }
        }
    }

    /** dst[cols, rows] = src[rows, cols]ᵀ. */
    static void transpose(float[] src, int rows, int cols, float[] dst) {
        final int tile = 32;
        for (int r0 = 0; r0 < rows; r0 += tile) {
            int r1 = Math.min(rows, r0 + tile);
            for (int c0 = 0; c0 < cols; c0 += tile) {
                int c1 = Math.min(cols, c0 + tile);
                for (int r = r0; r < r1; r++) {
                    for (int c = c0; c < c1; c++) {
                        dst[c * rows + r] = src[r * cols + c];
                    }
                }
            }
        }
    }
}
