package dev.fp4.nn;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.core.gemm.Fp4Gemm;
import dev.fp4.core.quant.CsrMatrix;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.core.quant.OutlierClamp;
import dev.fp4.core.quant.RandomHadamard;
import dev.fp4.nn.recipe.GemmPrecision;
import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.OperandFormat;
import dev.fp4.nn.recipe.OutlierClamping;
import dev.fp4.nn.recipe.Quantizer;
import dev.fp4.nn.recipe.WeightGradientEstimator;
import java.util.List;
import java.util.Objects;
import java.util.function.IntConsumer;

/**
 * A bias-free linear layer, Y = X·Wᵀ with W laid out [out, in], whose three GeMMs follow a
 * {@link LinearPrecision}:
 * <ul>
 *   <li>forward: X_c = clamp(X) when the precision clamps (else X), X̂ = Qa(X_c), Ŵ = Qb(W),
 *       Y = X̂·Ŵᵀ, plus ΔX·Wᵀ (ΔX = X − X_c, sparse, FP32 with the master weights) when the clamp
 *       is compensated;
 *   <li>data gradient: dX = Qa(dY)·Qb(Ŵᵀ)ᵀ; with compensation the clamped elements get
 *       dX[r,c] = Σ_o dY[r,o]·W[o,c] in FP32 instead (the derivative of the residual path; the clamp
 *       itself passes nothing there);
 *   <li>weight gradient: dŴ = Qa(dYᵀ)·Qb(X̂ᵀ)ᵀ, dW += dŴ ⊙ f'(W·sf) (f' the estimator's derivative
 *       on the scaled weights when it is not the identity, else dW += dŴ), plus dYᵀ·ΔX in FP32 with
 *       compensation.
 * </ul>
 * With every operand FP32 the GeMMs run straight on the operands (matmulNT, matmulNN, matmulTN).
 * Otherwise each operand is brought into the GeMM-compatible layout [·, K] (K the reduction
 * dimension; a transpose where needed), optionally rotated by the GeMM's random Hadamard transform
 * along K, fake-quantized into a reusable buffer and multiplied with matmulNT; when both operands are
 * FP4 with power-of-two scales they stay packed and {@link Fp4Gemm} multiplies them (the same bits,
 * {@link Fp4Gemm#matchesFloatGemm}). The layer keeps its own copy of X̂ for the backward: packed
 * (the input quantizer's {@code Fp4Tensor}) under FP4, else an FP32 copy.
 *
 * <p>Stochastic rounding: every quantization gets its own stream,
 * {@link #roundingStream(long, long, long, LinearRole, int, Operand)} of the random state set by
 * {@link #setRandomState} (the model passes its seed, the training step and the micro-batch index),
 * so results are reproducible from the seed and do not depend on how often the layer ran before.
 *
 * <p>Buffers: X̂, Ŵ, the scaled weights, the residual and the clamp's scratch belong to the layer;
 * the GeMM operand buffers are shared by the layers of one model. After the first step of a shape
 * nothing is allocated.
 */
public final class Linear implements SequenceLayer {
    /** Elements below which FP4-only element-wise work and transposes stay on the calling thread. */
    static final int PARALLEL_MIN = 1 << 14;

    /** This layer's {@link #PARALLEL_MIN} (tests lower it to run the splits on small shapes). */
    int parallelMin = PARALLEL_MIN;

    /**
     * Whether GeMMs whose operands are both packed FP4 with power-of-two scales run as
     * {@link Fp4Gemm} on the packed operands (tests turn it off to hold that equal to FloatGemm on
     * the dequantized copies).
     */
    boolean packedProducts = true;

    /** GeMMs of the last forward and backward that multiplied packed FP4 operands (for tests). */
    int lastPackedProducts;

    /** Column splits fall on multiples of this: 16 floats, a multiple of every vector width (4, 8, 16). */
    private static final int SPLIT_GRAIN = 16;

    /** The operand quantizations of one forward and backward, for {@link #roundingStream}. */
    public enum Operand {
        /** X in the forward GeMM. */
        X,
        /** W in the forward GeMM. */
        W,
        /** dY in the data-gradient GeMM. */
        DGRAD_DY,
        /** Ŵᵀ in the data-gradient GeMM. */
        DGRAD_W,
        /** dYᵀ in the weight-gradient GeMM. */
        WGRAD_DY,
        /** X̂ᵀ in the weight-gradient GeMM. */
        WGRAD_X
    }

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
    private OutlierClamp clamp;
    private boolean compensate;
    /** ΔX of the last forward: this layer's own, or that of the layer it shared the input with. */
    private CsrMatrix residual;
    private CsrMatrix ownResidual;
    /** The x of the last forward (identity only, for {@link #sharesInputWith}). */
    private float[] lastInput;
    /** A copy of the last forward's x, for a weight gradient quantized from the input ({@code fromInput}). */
    private float[] xSource = new float[0];
    private boolean lastShared;
    /** Serial of the forward that prepared X̂ (this layer's, or the layer it shared X̂ with). */
    private long xhatSerial;
    private static final java.util.concurrent.atomic.AtomicLong FORWARDS = new java.util.concurrent.atomic.AtomicLong();
    private int lastClamped;
    /** The layer's own FP32 X̂, when its input format cannot replay it (FP32 copy, clamping alone, FP8). */
    private float[] xq = new float[0];
    /** The layer's own FP32 Ŵ, when its weight format cannot replay it. */
    private float[] ownWq = new float[0];
    /** Ŵ [out, in] of this pass: the layer's own, or the shared scratch refilled from the packed form. */
    private float[] wq;
    /** Scaled weights of the estimator (shared scratch, computed in backward). */
    private float[] wScaled;
    /** Wᵀ [in, out] (compensated clamping only; shared scratch, computed in forward and again in backward). */
    private float[] wT;
    /** The layer whose forward-input quantizer holds X̂ packed (this one, or the one it shared X̂ with), or null. */
    private Linear xhatFrom;

    private long seed;
    private long step;
    private long micro;

    /** X̂ in FP32 after the forward, or null when the forward kept it packed only ({@link #xPacked}). */
    private float[] xhat;
    /** X̂ packed (the input quantizer's tensor, or that of the layer X̂ was shared with), or null. */
    private Fp4Tensor xPacked;
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

    /** Input features ({@link #in()}). */
    @Override
    public int inputWidth() {
        return in();
    }

    @Override
    public int outputWidth() {
        return out();
    }

    /** The weight [out, in]. */
    @Override
    public List<Parameter> parameters() {
        return List.of(weight());
    }

    /** As {@link #forward(float[], float[], int)} with rows = batch·seq (the rows are independent). */
    @Override
    public void forward(float[] x, float[] y, int batch, int seq) {
        if (batch <= 0 || seq <= 0) {
            throw new IllegalArgumentException(weight().name() + ": batch and seq must be positive, got batch " + batch + ", seq " + seq);
        }
        forward(x, y, Math.multiplyExact(batch, seq));
    }

    /** As {@link #backward(float[], float[], boolean)}, writing dx (not accumulating). */
    @Override
    public void backward(float[] dy, float[] dx) {
        backward(dy, dx, false);
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
        OutlierClamping c = p.clamping();
        clamp = c == null ? null : c.newClamp();
        if (clamp != null) {
            scratch.shareClamp(clamp);
        }
        compensate = c != null && c.compensate();
        rows = -1; // a backward must follow a forward under the same precision
    }

    /**
     * Sets the random state that stochastic rounding draws from until the next call: the model
     * seed, the training step and the index of the forward within the step (micro-batch).
     */
    public void setRandomState(long seed, long step, long micro) {
        this.seed = seed;
        this.step = step;
        this.micro = micro;
    }

    /**
     * The stochastic-rounding stream of one operand quantization of the layer with {@code role} in
     * block {@code layer}, under the random state (seed, step, micro): a SplitMix64 hash chain, so
     * distinct arguments give unrelated streams. Passed to {@link Quantizer#quantize}.
     */
    public static long roundingStream(long seed, long step, long micro, LinearRole role, int layer, Operand operand) {
        long h = mix64(seed ^ 0x243F6A8885A308D3L);
        h = mix64(h + step);
        h = mix64(h + micro);
        h = mix64(h + ((long) role.ordinal() << 32) + (layer + 1));
        return mix64(h + operand.ordinal());
    }

    private static long mix64(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private long stream(Operand op) {
        return roundingStream(seed, step, micro, role, layer, op);
    }

    void shareScratch(LinearScratch s) {
        this.scratch = Objects.requireNonNull(s);
        if (clamp != null) {
            s.shareClamp(clamp);
        }
    }

    private static Quantizer quantizer(OperandFormat f) {
        return f.isIdentity() ? null : f.newQuantizer();
    }

    /** Whether the last forward took X̂ (and ΔX) from another layer instead of preparing its own. */
    boolean lastForwardShared() {
        return lastShared;
    }

    /** Number of input elements the last forward clamped (0 without clamping). */
    public int clampedCount() {
        return lastClamped;
    }

    /**
     * y[rows, out] = X̂·Ŵᵀ (+ ΔX·Wᵀ) for x[rows, in]; keeps its own X̂ (under FP32 a copy of x) for
     * backward, so x may change before {@link #backward} under every precision.
     */
    public void forward(float[] x, float[] y, int rows) {
        forward(x, y, rows, null);
    }

    /**
     * As {@link #forward(float[], float[], int)}, where {@code sameInput} (may be null) is a layer
     * whose last forward ran on the same x (the same array, unchanged since) with the same row
     * count, e.g. the query projection for the key and value projections. When both layers clamp
     * and quantize their input alike (equal clamping, equal input format that ignores the rounding
     * stream), this layer takes that layer's X̂ and residual ΔX, which are then equal bit for bit to
     * what it would compute, instead of clamping and quantizing again; they stay valid until that
     * layer's next forward.
     */
    void forward(float[] x, float[] y, int rows, Linear sameInput) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(y, "y");
        if (rows <= 0) {
            throw new IllegalArgumentException(weight.name() + ": rows must be positive, got " + rows);
        }
        checkLength(x, (long) rows * in, "x", rows, in);
        checkLength(y, (long) rows * out, "y", rows, out);
        this.rows = -1; // invalid until this forward completes
        lastClamped = 0;
        residual = ownResidual;
        float[] a = x;
        // X̂ packed when the input format is FP4 (then a is null until X̂ is needed in FP32)
        Fp4Tensor xt = null;
        xhatFrom = null;
        if (sameInput != null && sharesInputWith(sameInput, x, rows)) {
            a = sameInput.xhat;
            xt = sameInput.xPacked;
            xhatFrom = sameInput.xhatFrom;
            residual = sameInput.residual;
            lastClamped = sameInput.lastClamped;
            xhatSerial = sameInput.xhatSerial;
            lastShared = true;
        } else {
            lastShared = false;
            // 0: nothing prepared (X̂ is a plain copy of x below), so never shared.
            xhatSerial = clamp != null || fwdA != null ? FORWARDS.incrementAndGet() : 0;
            // X̂ goes to the shared scratch when the input quantizer keeps it packed, else to this layer's own buffer
            boolean packed = fwdA != null && fwdA.replays();
            float[] xbuf;
            if (packed) {
                scratch.xhat = Workspace.grow(scratch.xhat, (long) rows * in);
                xbuf = scratch.xhat;
            } else {
                xq = Workspace.grow(xq, (long) rows * in);
                xbuf = xq;
            }
            if (clamp != null) {
                if (compensate && ownResidual == null) {
                    ownResidual = new CsrMatrix(rows, in);
                    residual = ownResidual;
                }
                try {
                    lastClamped = clamp.clamp(x, 0, rows, in, xbuf, 0, compensate ? residual : null);
                } catch (IllegalArgumentException e) {
                    throw context(e, "clamping the input X [" + rows + ", " + in + "]");
                }
                a = xbuf;
            }
            if (fwdA != null) {
                xt = packed ? quantizePacked(fwdA, a, rows, in, Operand.X, "the input X") : null;
                if (xt == null) {
                    quantize(fwdA, a, rows, in, xbuf, Operand.X, "the input X");
                    a = xbuf;
                } else {
                    a = null;
                }
            }
            if (packed) {
                xhatFrom = this;
            }
            if (a == x) {
                // One contract under every precision: the layer keeps its own copy of what its
                // backward reads, so the caller may reuse x between forward and backward.
                xq = Workspace.grow(xq, (long) rows * in);
                System.arraycopy(x, 0, xq, 0, rows * in);
                a = xq;
            }
        }
        lastInput = x;
        if (precision.weightGrad().fromInput()) {
            xSource = Workspace.grow(xSource, (long) rows * in);
            System.arraycopy(x, 0, xSource, 0, rows * in);
        }
        float[] b = weight.data();
        Fp4Tensor wt = null;
        if (fwdB != null) {
            wq = weightBuffer();
            wt = xt != null ? quantizePacked(fwdB, b, out, in, Operand.W, "the weight W") : null;
            if (wt == null) {
                quantize(fwdB, b, out, in, wq, Operand.W, "the weight W");
            }
            b = wq;
        }
        if (a == null) {                       // X̂'s FP32 buffer, filled only if the product needs it
            scratch.xhat = Workspace.grow(scratch.xhat, (long) rows * in);
            a = scratch.xhat;
        }
        lastPackedProducts = 0;
        if (productNT(xt, a, wt, b, rows, out, in, y, false)) {
            a = null;                          // X̂ stays packed only
        }
        if (compensate) {
            transposeWeight();
            // Y += ΔX·Wᵀ; each row of Y is its own set of chains: split the rows over the threads.
            int chunks = chunks(residual.nnz(), rows);
            if (chunks == 1) {
                residual.multiplyNTTransposed(wT, 0, out, y, 0, true);
            } else {
                bindSplit(chunks, rows, y, null, null, null);
                Parallel.forEach(chunks, forwardPatchPiece);
            }
        }
        this.xhat = a;
        this.xPacked = xt;
        this.rows = rows;
    }

    /**
     * Adds the weight gradient into {@code weight().grad()} and, when {@code dx} is not null, writes
     * (or adds, when {@code accumulateDx}) the input gradient into dx [rows, in].
     */
    public void backward(float[] dy, float[] dx, boolean accumulateDx) {
        scratch.quantizedDy = null;
        if (rows < 0) {
            throw new IllegalStateException(weight.name() + ": backward() without a forward() under this precision");
        }
        Objects.requireNonNull(dy, "dy");
        checkLength(dy, (long) rows * out, "dy", rows, out);
        // What the forward kept packed, back in FP32 (the same bits; the shared scratch has since
        // served other layers)
        if (xhatFrom != null) {
            scratch.xhat = Workspace.grow(scratch.xhat, (long) rows * in);
            xhatFrom.fwdA.replay(scratch.xhat, 0);
            xhat = scratch.xhat;
        }
        if (fwdB != null && fwdB.replays()) {
            wq = weightBuffer();
            fwdB.replay(wq, 0);
        }
        if (compensate && residual.nnz() > 0) {
            transposeWeight();
        }
        if (dx != null) {
            checkLength(dx, (long) rows * in, "dx", rows, in);
            dataGradient(dy, fwdB != null ? wq : weight.data(), dx, accumulateDx);
        }
        weightGradient(dy);
        scratch.quantizedDy = null;
    }

    /** Where Ŵ lives: the shared scratch when the weight quantizer can replay it, else the layer's own buffer. */
    private float[] weightBuffer() {
        if (fwdB.replays()) {
            scratch.wq = Workspace.grow(scratch.wq, (long) out * in);
            return scratch.wq;
        }
        ownWq = Workspace.grow(ownWq, (long) out * in);
        return ownWq;
    }

    /** wT = Wᵀ [in, out] from the FP32 master weight, in the shared scratch. */
    private void transposeWeight() {
        scratch.wT = Workspace.grow(scratch.wT, (long) in * out);
        wT = scratch.wT;
        transposer.run(weight.data(), out, in, wT, parallelMin);
    }

    /**
     * Whether {@code other}'s last completed forward ran on x with this row count and prepared
     * its input exactly as this layer would: the same clamping and the same deterministic input
     * format (a stochastic format would draw from another stream per layer).
     */
    private boolean sharesInputWith(Linear other, float[] x, int rows) {
        if (other == this || other.rows != rows || other.lastInput != x || other.in != in) {
            return false;
        }
        if (clamp == null && fwdA == null) {
            return false; // nothing to share: X̂ is x itself
        }
        OperandFormat mine = precision.forward().a();
        return mine.equals(other.precision.forward().a()) && !mine.usesRoundingStream()
                && Objects.equals(precision.clamping(), other.precision.clamping());
    }

    private void dataGradient(float[] dy, float[] w, float[] dx, boolean accumulate) {
        boolean patch = compensate && residual.nnz() > 0;
        float[] target = dx;
        boolean acc = accumulate;
        if (patch) {
            scratch.ensureDx((long) rows * in);
            target = scratch.dx;
            acc = false;
        }
        GemmPrecision g = precision.dataGrad();
        if (g.isIdentity()) {
            FloatGemm.matmulNN(dy, 0, w, 0, target, 0, rows, in, out, acc);
        } else {
            LinearScratch s = scratch.ensure((long) rows * out, (long) in * out);
            // Without accumulation and rotation, and with a layout-free format for Ŵ, Q(Ŵᵀ) = Q(Ŵ)ᵀ and
            // matmulNN on Q(Ŵ) runs the same chains as matmulNT on Q(Ŵᵀ) (FloatGemm's contract; NN
            // and NT differ only in how an accumulation continues): Ŵ needs no transpose.
            boolean nn = !acc && g.hadamard() == null && g.b().isLayoutFree();
            if (nn) {
                if (dgB != null) {
                    quantize(dgB, w, out, in, s.b, Operand.DGRAD_W, "Ŵ of the data gradient");
                } else {
                    System.arraycopy(w, 0, s.b, 0, out * in);
                }
            } else {
                transposer.run(w, out, in, s.b, parallelMin);                 // Ŵᵀ [in, out]
                hadamard(g.hadamard(), s.b, in, out);
            }
            float[] dySrc = dy;                                  // dY [rows, out], rotated in s.a
            if (g.hadamard() != null || dgA == null) {
                System.arraycopy(dy, 0, s.a, 0, rows * out);
                hadamard(g.hadamard(), s.a, rows, out);
                dySrc = s.a;
            }
            if (nn) {
                if (dgA != null) {
                    quantize(dgA, dySrc, rows, out, s.a, Operand.DGRAD_DY, "dY of the data gradient");
                }
                FloatGemm.matmulNN(s.a, 0, s.b, 0, target, 0, rows, in, out, false);
            } else {
                // Ŵ of the forward, transposed, is already Q(Ŵᵀ) when the format allows (TE's NVFP4
                // reuses the 16×16-quantized weight): quantizing it again could move values
                boolean reuse = fwdB != null && w == wq && g.hadamard() == null
                        && g.b().equals(precision.forward().b()) && g.b().reusableTransposed();
                quantizedProductNT(dgA, dySrc, s.a, Operand.DGRAD_DY, "dY of the data gradient",
                        reuse ? null : dgB, s.b, Operand.DGRAD_W, "Ŵᵀ of the data gradient", rows, in, out, target, acc);
            }
            if (dgA != null && dySrc == dy && g.a().isLayoutFree()) {
                s.quantizedDy = s.a; // Q(dY) [rows, out], for the weight gradient
                s.quantizedDyFormat = g.a();
            }
        }
        if (patch) {
            // Clamped elements: dX[r,c] = Σ_o dY[r,o]·W[o,c] (FP32 master weights of the forward, as
            // Ŵ is), the derivative of ΔX·Wᵀ: one fma chain over o per element, from Wᵀ's rows.
            // Each element is its own chain: split the columns over the pool (same bits).
            int chunks = chunks(residual.nnz(), in);
            if (chunks == 1) {
                residual.sampledProductNT(dy, 0, out, wT, 0, target, 0);
            } else {
                bindSplit(chunks, in, target, dy, null, null);
                Parallel.forEach(chunks, dataPatchPiece);
            }
            int n = rows * in;
            if (accumulate) {
                for (int i = 0; i < n; i++) {
                    dx[i] += target[i];
                }
            } else {
                System.arraycopy(target, 0, dx, 0, n);
            }
        }
    }

    private void weightGradient(float[] dy) {
        GemmPrecision g = precision.weightGrad();
        // X's operand: the forward's X̂, or (fromInput) the high-precision X it was quantized from
        float[] xw = g.fromInput() ? xSource : xhat;
        WeightGradientEstimator est = precision.estimator();
        boolean estimate = fwdB != null && !est.isIdentity();
        float[] grad = weight.grad();
        float[] target = grad;
        if (estimate) {
            scratch.ensureDw((long) out * in);
            target = scratch.dw;
        }
        if (g.isIdentity()) {
            FloatGemm.matmulTN(dy, 0, xw, 0, target, 0, out, in, rows, !estimate);
        } else if (g.hadamard() == null && g.a().isLayoutFree() && g.b().isLayoutFree()) {
            // Elementwise formats under one scale per operand: Q(dYᵀ) = Q(dY)ᵀ and Q(X̂ᵀ) = Q(X̂)ᵀ, and
            // matmulTN runs each element's FMA chain over the rows in the same order as matmulNT on
            // the transposes (FloatGemm's contract), so the two transposes are skipped. NT would add
            // its finished chain to the gradient where TN continues the chain from it: the STE case
            // therefore multiplies into the scratch and adds.
            LinearScratch s = scratch.ensure((long) rows * out, 0);
            float[] qa = dy;
            if (wgA != null && s.quantizedDy == s.a && g.a().equals(s.quantizedDyFormat)) {
                // The data gradient of this backward left Q(dY) in the scratch, and the format is
                // layout-free and deterministic: the weight gradient's Q(dY) is the same array.
                qa = s.a;
            } else if (wgA != null) {
                quantize(wgA, dy, rows, out, s.a, Operand.WGRAD_DY, "dY of the weight gradient");
                qa = s.a;
            }
            float[] qb = xw;
            if (wgB != null && g.fromInput()) {
                s.ensureXq8((long) rows * in);
                s.quantizedXhatSerial = 0;
                quantize(wgB, xw, rows, in, s.xq8, Operand.WGRAD_X, "X of the weight gradient");
                qb = s.xq8;
            } else if (wgB != null) {
                // Layers that shared X̂ in the forward share Q(X̂) too: the scratch keeps the last one,
                // keyed by the forward that prepared X̂ (a serial no other forward reuses).
                if (xhatSerial != 0 && s.quantizedXhatSerial == xhatSerial && g.b().equals(s.quantizedXhatFormat)
                        && s.quantizedXhatRows == rows && s.quantizedXhatCols == in) {
                    qb = s.xq8;
                } else {
                    s.quantizedXhatSerial = 0;
                    s.ensureXq8((long) rows * in);
                    quantize(wgB, xhat, rows, in, s.xq8, Operand.WGRAD_X, "X̂ of the weight gradient");
                    s.quantizedXhatSerial = xhatSerial; // 0 when X̂ is the caller's x: never matched
                    s.quantizedXhatFormat = g.b();
                    s.quantizedXhatRows = rows;
                    s.quantizedXhatCols = in;
                    qb = s.xq8;
                }
            }
            if (estimate) {
                FloatGemm.matmulTN(qa, 0, qb, 0, target, 0, out, in, rows, false);
            } else {
                scratch.ensureDw((long) out * in);
                float[] dw = scratch.dw;
                FloatGemm.matmulTN(qa, 0, qb, 0, dw, 0, out, in, rows, false);
                for (int i = 0, n = out * in; i < n; i++) {
                    grad[i] += dw[i];
                }
            }
        } else {
            LinearScratch s = scratch.ensure((long) out * rows, (long) in * rows);
            transposer.run(dy, rows, out, s.a, parallelMin);     // dYᵀ [out, rows]
            transposer.run(xw, rows, in, s.b, parallelMin);      // X̂ᵀ (or Xᵀ) [in, rows]
            hadamard(g.hadamard(), s.a, out, rows);
            hadamard(g.hadamard(), s.b, in, rows);
            quantizedProductNT(wgA, s.a, s.a, Operand.WGRAD_DY, "dYᵀ of the weight gradient",
                    wgB, s.b, Operand.WGRAD_X, "X̂ᵀ of the weight gradient", out, in, rows, target, !estimate);
        }
        if (estimate) {
            int n = out * in;
            scratch.ensureDeriv(n);
            float[] d = scratch.deriv;
            // x = W / (block scale · tensor scale) of the forward's quantization, which fwdB keeps
            scratch.wScaled = Workspace.grow(scratch.wScaled, n);
            wScaled = scratch.wScaled;
            fwdB.scaledValues(weight.data(), 0, wScaled, 0);
            // Element-wise: split over the pool when there is more than one thread (same bits).
            int chunks = dev.fp4.core.gemm.Gemm.threads() == 1 || n < parallelMin ? 1 : 4 * dev.fp4.core.gemm.Gemm.threads();
            if (chunks == 1) {
                applyEstimator(est, fwdB, wScaled, d, target, grad, 0, n);
            } else {
                bindSplit(chunks, n, target, null, grad, est);
                Parallel.forEach(chunks, estimatorPiece);
            }
        }
        if (compensate && residual.nnz() > 0) {
            // dW += dYᵀ·ΔX. Each dW[o,c] continues its fma chain over the rows in increasing order
            // (CsrMatrix.leftMultiplyTN); run on dWᵀ the chains of one clamped element lie along o,
            // contiguous with dY's row, and vectorise.
            scratch.ensureDw((long) out * in);
            float[] gT = scratch.dw;
            transposer.run(grad, out, in, gT, parallelMin);
            // Each dWᵀ[c, o] chain runs over the rows in order whatever the split: split o over the
            // pool, at multiples of SPLIT_GRAIN so every piece but the last is whole vectors. Every
            // piece walks all nnz elements, so one piece per thread: more would only repeat the walk
            // (with 8 pieces of 2 vectors it cost 3.5× the single-thread time in the profile).
            int grains = out / SPLIT_GRAIN;
            int chunks = Math.min(chunks(residual.nnz(), grains), dev.fp4.core.gemm.Gemm.threads());
            if (chunks == 1) {
                residual.multiplyTN(dy, 0, out, gT, 0, true);
            } else {
                bindSplit(chunks, grains, gT, dy, null, null);
                Parallel.forEach(chunks, weightPatchPiece);
            }
            transposer.run(gT, in, out, grad, parallelMin);
        }
    }

    // The running split of FP4-only work, read by the bound piece bodies below (a capturing lambda
    // would allocate at every call): piece c of `splits` covers units [units·c/splits,
    // units·(c+1)/splits) of the rows, columns, elements or SPLIT_GRAIN grains it divides.
    private int splits;
    private int splitUnits;
    private float[] splitOut;
    private float[] splitDy;
    private float[] splitGrad;
    private WeightGradientEstimator splitEstimator;
    private final Transposer transposer = new Transposer();
    private final IntConsumer forwardPatchPiece = this::forwardPatchPiece;
    private final IntConsumer dataPatchPiece = this::dataPatchPiece;
    private final IntConsumer estimatorPiece = this::estimatorPiece;
    private final IntConsumer weightPatchPiece = this::weightPatchPiece;

    private void bindSplit(int splits, int units, float[] out, float[] dy, float[] grad, WeightGradientEstimator est) {
        this.splits = splits;
        this.splitUnits = units;
        this.splitOut = out;
        this.splitDy = dy;
        this.splitGrad = grad;
        this.splitEstimator = est;
    }

    private int splitStart(int c) {
        return Parallel.splitPoint(splitUnits, c, splits);
    }

    /** Y += ΔX·Wᵀ on rows of piece c (splitOut is Y). */
    private void forwardPatchPiece(int c) {
        residual.multiplyNTTransposed(wT, 0, out, splitOut, 0, true, splitStart(c), splitStart(c + 1));
    }

    /** The clamped elements' dX on columns of piece c (splitOut is the target). */
    private void dataPatchPiece(int c) {
        residual.sampledProductNTColumns(splitDy, 0, out, wT, 0, splitOut, 0, splitStart(c), splitStart(c + 1));
    }

    /** grad += dŴ·f'(wScaled) on elements of piece c (splitOut is dŴ). */
    private void estimatorPiece(int c) {
        int from = splitStart(c);
        applyEstimator(splitEstimator, fwdB, wScaled, scratch.deriv, splitOut, splitGrad, from, splitStart(c + 1) - from);
    }

    /** dWᵀ += ΔXᵀ·dY on output columns of piece c, in whole SPLIT_GRAIN grains but the last (splitOut is dWᵀ). */
    private void weightPatchPiece(int c) {
        residual.multiplyTN(splitDy, 0, out, splitOut, 0, SPLIT_GRAIN * splitStart(c),
                c == splits - 1 ? out : SPLIT_GRAIN * splitStart(c + 1));
    }

    /**
     * How many pieces to split FP4-only work over {@code nnz} elements into: 1 (the calling thread)
     * with one thread or below {@link #parallelMin}, else 4 per thread, at most {@code units}.
     */
    private int chunks(int nnz, int units) {
        return dev.fp4.core.gemm.Gemm.threads() == 1 || nnz < parallelMin || units < 2 ? 1 : Math.min(units, 4 * dev.fp4.core.gemm.Gemm.threads());
    }

    /** grad[i] += dŴ[i] · f'(wScaled[i]) for i in [off, off + len); f' = 1 on zero-scale blocks of Ŵ. */
    private static void applyEstimator(WeightGradientEstimator est, Quantizer weights, float[] wScaled, float[] d, float[] dw,
                                       float[] grad, int off, int len) {
        est.derivatives(wScaled, off, d, off, len);
        weights.straightThroughOnZeroScale(d, off, len);
        for (int i = off; i < off + len; i++) {
            grad[i] += dw[i] * d[i];
        }
    }

    /**
     * target[m, n] (+)= Qa(A)·Qb(B)ᵀ for A [m, k] read from {@code aSrc} and B [n, k] in {@code b}
     * (a null quantizer leaves its operand FP32; {@code a} is A's buffer, which may be aSrc).
     * When both quantizers pack FP4 with scales for which {@link Fp4Gemm#matchesFloatGemm} holds,
     * the FP4 GeMM multiplies the packed operands; otherwise A and B are fake-quantized into
     * {@code a} and {@code b} and FloatGemm multiplies them. The same bits either way.
     */
    private void quantizedProductNT(Quantizer qa, float[] aSrc, float[] a, Operand opA, String whatA,
                                    Quantizer qb, float[] b, Operand opB, String whatB,
                                    int m, int n, int k, float[] target, boolean accumulate) {
        Fp4Tensor ta = qa == null ? null : quantizePacked(qa, aSrc, m, k, opA, whatA);
        Fp4Tensor tb = qb == null || ta == null ? null : quantizePacked(qb, b, n, k, opB, whatB);
        if (ta == null && qa != null) {
            quantize(qa, aSrc, m, k, a, opA, whatA);
        } else if (ta == null && aSrc != a) {
            System.arraycopy(aSrc, 0, a, 0, m * k);
        }
        if (tb == null && qb != null) {
            quantize(qb, b, n, k, b, opB, whatB);
        }
        productNT(ta, a, tb, b, m, n, k, target, accumulate);
    }

    /**
     * target[m, n] (+)= A·Bᵀ, each operand either packed (ta, tb not null; a and b their FP32
     * buffers) or already in FP32 in a or b. Both packed with scales for which
     * {@link Fp4Gemm#matchesFloatGemm} holds: the FP4 GeMM multiplies them (decoding while packing
     * its panels) and the method returns true; otherwise the packed ones are dequantized into their
     * buffers and FloatGemm multiplies. The same bits either way.
     */
    private boolean productNT(Fp4Tensor ta, float[] a, Fp4Tensor tb, float[] b, int m, int n, int k, float[] target,
                              boolean accumulate) {
        if (packedProducts && ta != null && tb != null && Fp4Gemm.matchesFloatGemm(ta, tb, k)) {
            lastPackedProducts++;
            Fp4Gemm.matmulNT(ta, tb, target, 0, accumulate);
            return true;
        }
        if (ta != null) {
            ta.dequantizeInto(a, 0);
        }
        if (tb != null) {
            tb.dequantizeInto(b, 0);
        }
        FloatGemm.matmulNT(a, 0, b, 0, target, 0, m, n, k, accumulate);
        return false;
    }

    /** {@link Quantizer#quantizePacked} with the layer and operand named in a rejection; null unless packed FP4. */
    private Fp4Tensor quantizePacked(Quantizer q, float[] src, int r, int c, Operand op, String what) {
        try {
            return q.quantizePacked(src, 0, r, c, stream(op));
        } catch (IllegalArgumentException e) {
            throw context(e, "quantizing " + what + " [" + r + ", " + c + "]");
        }
    }

    private void quantize(Quantizer q, float[] src, int r, int c, float[] dst, Operand op, String what) {
        try {
            q.quantize(src, 0, r, c, dst, 0, stream(op));
        } catch (IllegalArgumentException e) {
            throw context(e, "quantizing " + what + " [" + r + ", " + c + "]");
        }
    }

    /** The exception with the layer and operand in front of its message, of the same kind (a non-finite value stays one). */
    private IllegalArgumentException context(IllegalArgumentException e, String what) {
        String message = weight.name() + ": " + what + ": " + e.getMessage();
        IllegalArgumentException c = e instanceof dev.fp4.core.quant.NonFiniteValueException
                ? new dev.fp4.core.quant.NonFiniteValueException(message) : new IllegalArgumentException(message);
        c.initCause(e);
        return c;
    }

    private void checkLength(float[] a, long need, String name, int r, int c) {
        if (a.length < need) {
            throw new IllegalArgumentException(weight.name() + ": " + name + " must hold [" + r + ", " + c + "] = "
                    + need + " elements, has " + a.length);
        }
    }

    /**
     * Rotates each row of the [rows, cols] matrix by {@code h} along the columns (groups of
     * h.size()); the last cols mod size columns, if any, stay as they are.
     */
    static void hadamard(RandomHadamard h, float[] x, int rows, int cols) {
        if (h == null) {
            return;
        }
        int full = cols - cols % h.size();
        if (full == 0) {
            return;
        }
        if (full == cols) {
            h.forward(x, 0, rows, cols);
        } else {
            for (int r = 0; r < rows; r++) {
                h.forward(x, r * cols, 1, full);
            }
        }
    }

    /** dst[cols, rows] = src[rows, cols]ᵀ, split over the threads from {@code parallelMin} elements. */
    static void transpose(float[] src, int rows, int cols, float[] dst, int parallelMin) {
        new Transposer().run(src, rows, cols, dst, parallelMin);
    }

    /**
     * {@link #transpose} with its loop body bound once: a layer that keeps one allocates nothing per
     * call. Not for concurrent use.
     */
    static final class Transposer implements IntConsumer {
        private float[] src;
        private int rows;
        private int cols;
        private float[] dst;
        private int tiles;
        private int pieces;

        void run(float[] src, int rows, int cols, float[] dst, int parallelMin) {
            int tiles = (rows + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
            int pieces = (long) rows * cols < parallelMin ? 1 : Math.min(tiles, dev.fp4.core.gemm.Gemm.threads());
            if (pieces == 1) {
                transposeRows(src, rows, cols, dst, 0, rows);
                return;
            }
            this.src = src;
            this.rows = rows;
            this.cols = cols;
            this.dst = dst;
            this.tiles = tiles;
            this.pieces = pieces;
            Parallel.forEach(pieces, this);
        }

        /** Band p of whole tiles of source rows: it writes its own columns of dst. */
        @Override
        public void accept(int p) {
            transposeRows(src, rows, cols, dst, TRANSPOSE_TILE * Parallel.splitPoint(tiles, p, pieces),
                    p == pieces - 1 ? rows : TRANSPOSE_TILE * Parallel.splitPoint(tiles, p + 1, pieces));
        }
    }

    /** Source rows per thread band of {@link #transpose} (a multiple of {@link #TRANSPOSE_BLOCK}). */
    private static final int TRANSPOSE_TILE = 32;
    /**
     * Side of the blocks {@link #transposeRows} moves. Inside a block the writes run along dst's
     * rows and the reads down src's columns: 8 lines each way. With power-of-two row lengths
     * (512, 1024 floats) every line of a column falls in the same L1 set; 8 fit its 12 ways, where
     * the former 32 × 32 tiles, written down dst's columns, missed on every store: 2.5–7.5 ns per
     * element against 0.7–1.0 on 512 × 512 to 1024 × 1024.
     */
    private static final int TRANSPOSE_BLOCK = 8;

    /** Rows [from, to) of {@link #transpose}: dst[c, r] = src[r, c], in 8 × 8 blocks. */
    private static void transposeRows(float[] src, int rows, int cols, float[] dst, int from, int to) {
        final int bs = TRANSPOSE_BLOCK;
        for (int c0 = 0; c0 < cols; c0 += bs) {
            int c1 = Math.min(cols, c0 + bs);
            for (int r0 = from; r0 < to; r0 += bs) {
                int r1 = Math.min(to, r0 + bs);
                for (int c = c0; c < c1; c++) {
                    int d = c * rows;
                    for (int r = r0; r < r1; r++) {
                        dst[d + r] = src[r * cols + c];
                    }
                }
            }
        }
    }
}
