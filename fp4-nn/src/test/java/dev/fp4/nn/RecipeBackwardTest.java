package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.format.BF16;
import dev.fp4.core.format.E4M3;
import dev.fp4.core.format.E5M2;
import dev.fp4.core.quant.CsrMatrix;
import dev.fp4.core.quant.DifferentiableGradientEstimator;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.core.quant.OutlierClamp;
import dev.fp4.core.quant.RandomHadamard;
import dev.fp4.core.quant.Rounding;
import dev.fp4.core.quant.ScaleRule;
import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.recipe.Recipes;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * For each recipe flavour, {@link Linear}'s forward and backward equal the recipe's definition
 * computed here by hand: the operands are quantized with direct fp4-core calls ({@link Fp4Tensor},
 * {@link E4M3#round}, {@link OutlierClamp}, {@link RandomHadamard}, the
 * {@link DifferentiableGradientEstimator}) in the GeMM-compatible layouts, and the products are
 * taken in double.
 *
 * <p>Tolerance. The quantized operands are exact FP32 values on both sides, so the only difference
 * is the FP32 accumulation of the layer's GeMMs. An FP32 fma chain over K terms is within
 * γ_K·Σ|a_k·b_k| of the exact sum (γ_K ≤ 1.01·K·2^−24 here); the estimator's product, the
 * compensation's addition and an accumulation into dX add one rounding each. Every element is
 * therefore checked against (K + 3)·2^−24 times the sum of the absolute values of all the terms
 * that make it up. A wrong layout or scale changes results by the quantization error, orders of
 * magnitude above that bound.
 */
class RecipeBackwardTest {
    static final double U = 0x1p-24;

    /** An expected matrix: exact values and, per element, the sum of the magnitudes of its terms. */
    record Expected(double[] value, double[] magnitude, int terms) {
        Expected plus(Expected o) {
            double[] v = value.clone();
            double[] m = magnitude.clone();
            for (int i = 0; i < v.length; i++) {
                v[i] += o.value[i];
                m[i] += o.magnitude[i];
            }
            return new Expected(v, m, terms + o.terms);
        }
    }

    /** A·Bᵀ for A [m, k] and B [n, k], in double. */
    static Expected nt(float[] a, float[] b, int m, int n, int k) {
        double[] v = new double[m * n];
        double[] mag = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                double t = 0;
                for (int p = 0; p < k; p++) {
                    double x = (double) a[i * k + p] * b[j * k + p];
                    s += x;
                    t += Math.abs(x);
                }
                v[i * n + j] = s;
                mag[i * n + j] = t;
            }
        }
        return new Expected(v, mag, k);
    }

    static void check(Expected e, float[] actual, String what) {
        for (int i = 0; i < e.value.length; i++) {
            double bound = (e.terms + 3) * U * e.magnitude[i];
            double err = Math.abs(actual[i] - e.value[i]);
            if (!(err <= bound)) {
                throw new AssertionError(what + "[" + i + "]: expected " + e.value[i] + " got " + actual[i]
                        + " (error " + err + " > bound " + bound + ")");
            }
        }
    }

    static float[] t(float[] a, int rows, int cols) {
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[c * rows + r] = a[r * cols + c];
            }
        }
        return out;
    }

    static float[] fp4(float[] x, int rows, int cols, Fp4Scheme scheme) {
        return Fp4Tensor.quantize(x, rows, cols, scheme).dequantize();
    }

    static float[] fp4(float[] x, int rows, int cols, Fp4Scheme scheme, long stream) {
        Fp4Tensor t = Fp4Tensor.allocate(rows, cols, scheme);
        t.quantizeFrom(x, 0, stream);
        return t.dequantize();
    }

    /** FP8 with one power-of-two scale: the largest 2^e with amax·2^e ≤ max, found by search. */
    static float[] fp8(float[] x, boolean e4m3) {
        float max = e4m3 ? E4M3.MAX : E5M2.MAX;
        double amax = 0;
        for (float v : x) {
            amax = Math.max(amax, Math.abs(v));
        }
        int e = 0;
        if (amax > 0) {
            while (amax * Math.scalb(1.0, e) > max) {
                e--;
            }
            while (amax * Math.scalb(1.0, e + 1) <= max) {
                e++;
            }
            e = Math.min(e, 127);
        }
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            float y = Math.scalb(x[i], e);
            out[i] = Math.scalb(e4m3 ? E4M3.round(y) : E5M2.round(y), -e);
        }
        return out;
    }

    static float[] e4m3(float[] x) {
        return fp8(x, true);
    }

    static float[] bf16(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = BF16.round(x[i]);
        }
        return out;
    }

    /** Inputs: a layer under {@code p} with random weights, x with a few outliers, dy. */
    static final class Case {
        final int rows;
        final int in;
        final int out;
        final Linear lin;
        final float[] w;
        final float[] x;
        final float[] dy;
        final float[] y;
        final float[] dx;

        Case(LinearPrecision p, int rows, int in, int out, long seed) {
            this.rows = rows;
            this.in = in;
            this.out = out;
            SplittableRandom r = new SplittableRandom(seed);
            lin = new Linear("blocks.0.ffn.w3", LinearRole.FFN_UP, 0, in, out);
            lin.setPrecision(p);
            w = lin.weight().data();
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) (0.1 * r.nextGaussian());
            }
            x = new float[rows * in];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) r.nextGaussian();
                if (r.nextInt(50) == 0) {
                    x[i] *= 20; // outliers for the clamp
                }
            }
            dy = new float[rows * out];
            for (int i = 0; i < dy.length; i++) {
                dy[i] = (float) (1e-3 * r.nextGaussian());
            }
            y = new float[rows * out];
            dx = new float[rows * in];
        }

        Case run() {
            lin.forward(x, y, rows);
            lin.backward(dy, dx, false);
            return this;
        }

        float[] grad() {
            return lin.weight().grad();
        }
    }

    static LinearPrecision ffn(PrecisionRecipe r) {
        return r.precision(LinearRole.FFN_UP, 0, 2);
    }

    @Test
    void fp4DirectIsTheStraightThroughEstimatorOfTheQuantizedForward() {
        Case c = new Case(ffn(Recipes.fp4Direct()), 12, 40, 10, 1).run();
        float[] xh = fp4(c.x, c.rows, c.in, Fp4Scheme.perRow());    // per token
        float[] wh = fp4(c.w, c.out, c.in, Fp4Scheme.perRow());     // per output channel
        check(nt(xh, wh, c.rows, c.out, c.in), c.y, "Y");
        // dX = E4M3(dY)·E4M3(Ŵᵀ)ᵀ; dW = E4M3(dYᵀ)·E4M3(X̂ᵀ)ᵀ passed straight through.
        check(nt(e4m3(c.dy), e4m3(t(wh, c.out, c.in)), c.rows, c.in, c.out), c.dx, "dX");
        check(nt(e4m3(t(c.dy, c.rows, c.out)), e4m3(t(xh, c.rows, c.in)), c.out, c.in, c.rows), c.grad(), "dW");
        assertEquals(0, c.lin.clampedCount());
    }

    @Test
    void officialVariantAppliesTheDgeOnColumnScaledWeightsAndPassesTheClampStraight() {
        // in = 128: the per-token quantiles at α = 0.99 clamp one element per side of every row.
        Case c = new Case(ffn(Recipes.fp4DgeOccOfficial()), 6, 128, 20, 2).run();
        float[] xc = c.x.clone();
        int clamped = new OutlierClamp(0.99, OutlierClamp.Granularity.PER_ROW).clamp(xc, 0, c.rows, c.in);
        assertEquals(2 * c.rows, clamped);
        assertEquals(clamped, c.lin.clampedCount());
        Fp4Scheme xs = Fp4Scheme.perRow().withRounding(Rounding.HALF_UP).withScaleRule(ScaleRule.OFFICIAL_BF16);
        Fp4Scheme ws = Fp4Scheme.perColumn().withRounding(Rounding.HALF_UP).withScaleRule(ScaleRule.OFFICIAL_BF16);
        float[] xh = fp4(xc, c.rows, c.in, xs);
        Fp4Tensor wt = Fp4Tensor.quantize(c.w, c.out, c.in, ws);
        float[] wh = wt.dequantize();
        check(nt(xh, wh, c.rows, c.out, c.in), c.y, "Y");
        // No compensation: the clamp is part of the activation quantizer, straight through.
        check(nt(e4m3(c.dy), e4m3(t(wh, c.out, c.in)), c.rows, c.in, c.out), c.dx, "dX");
        Expected dw = nt(e4m3(t(c.dy, c.rows, c.out)), e4m3(t(xh, c.rows, c.in)), c.out, c.in, c.rows);
        dge(dw, c.w, wt, c.in);
        check(dw, c.grad(), "dW");
    }

    /** dW ⊙= f'(W·sf), sf = 1/(scale·tensorScale) of the forward weight tensor. */
    static void dge(Expected dw, float[] w, Fp4Tensor wt, int in) {
        DifferentiableGradientEstimator d = new DifferentiableGradientEstimator();
        boolean varied = false;
        for (int i = 0; i < w.length; i++) {
            float f = d.derivative(w[i] / (wt.scale(i / in, i % in) * wt.tensorScale()));
            dw.value[i] *= f;
            dw.magnitude[i] *= f;
            varied |= f != 1f;
        }
        assertTrue(varied, "the DGE should differ from the STE somewhere");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void dgeOccCompensatesTheClampInFp32ForwardAndBackward(boolean accumulateDx) {
        Case c = new Case(ffn(Recipes.fp4DgeOcc()), 12, 32, 10, 3);
        float[] prior = new float[c.dx.length];
        if (accumulateDx) {
            SplittableRandom r = new SplittableRandom(30);
            for (int i = 0; i < prior.length; i++) {
                prior[i] = (float) (1e-3 * r.nextGaussian());
            }
            System.arraycopy(prior, 0, c.dx, 0, prior.length);
        }
        c.lin.forward(c.x, c.y, c.rows);
        c.lin.backward(c.dy, c.dx, accumulateDx);

        float[] xc = new float[c.x.length];
        CsrMatrix residual = new CsrMatrix(c.rows, c.in);
        int clamped = new OutlierClamp(0.99, OutlierClamp.Granularity.PER_TENSOR)
                .clamp(c.x, 0, c.rows, c.in, xc, 0, residual);
        assertTrue(clamped >= 2 * 3, "per-tensor quantiles of 384 values clamp 3 per side, got " + clamped);
        assertEquals(clamped, c.lin.clampedCount());
        float[] dX = residual.toDense();
        float[] xh = fp4(xc, c.rows, c.in, Fp4Scheme.perRow());
        Fp4Tensor wt = Fp4Tensor.quantize(c.w, c.out, c.in, Fp4Scheme.perRow());
        float[] wh = wt.dequantize();
        // Y = Q(X_c)·Q(W)ᵀ + ΔX·Wᵀ.
        check(nt(xh, wh, c.rows, c.out, c.in).plus(nt(dX, c.w, c.rows, c.out, c.in)), c.y, "Y");

        // dX: the quantized data gradient where X was not clamped, dY·W (FP32) where it was.
        Expected quant = nt(e4m3(c.dy), e4m3(t(wh, c.out, c.in)), c.rows, c.in, c.out);
        Expected exact = nt(c.dy, t(c.w, c.out, c.in), c.rows, c.in, c.out);
        double[] v = new double[c.dx.length];
        double[] m = new double[c.dx.length];
        for (int i = 0; i < v.length; i++) {
            Expected src = dX[i] != 0f ? exact : quant;
            v[i] = prior[i] + src.value[i];
            m[i] = Math.abs(prior[i]) + src.magnitude[i];
        }
        check(new Expected(v, m, c.out), c.dx, "dX");

        // dW = (E4M3(dYᵀ)·E4M3(X̂ᵀ)ᵀ) ⊙ f'(W·sf) + dYᵀ·ΔX.
        Expected dw = nt(e4m3(t(c.dy, c.rows, c.out)), e4m3(t(xh, c.rows, c.in)), c.out, c.in, c.rows);
        dge(dw, c.w, wt, c.in);
        check(dw.plus(nt(t(c.dy, c.rows, c.out), t(dX, c.rows, c.in), c.out, c.in, c.rows)), c.grad(), "dW");
    }

    /**
     * At a clamped element the compensated forward is truly differentiable: moving the outlier
     * (keeping it beyond its bound) changes only ΔX, so Y moves by h·W[:, c] and the loss
     * L = Σ dY⊙Y by h·(dY·W)[r, c], which is what the backward reports there. The quantized path
     * does not move at all (Q(X_c) is unchanged), so the finite difference has no quantization
     * noise: only the FP32 rounding of Y (≈ 2^−24 relative), against a change of about 1% of the
     * outlier's contribution; 1e-3 relative leaves a wide margin above that noise.
     */
    @Test
    void compensatedBackwardIsTheTrueDerivativeAtClampedElements() {
        Case c = new Case(ffn(Recipes.fp4DgeOcc()), 12, 32, 10, 3).run();
        float[] dx = c.dx.clone();
        double base = loss(c, c.x);
        CsrMatrix residual = new CsrMatrix(c.rows, c.in);
        new OutlierClamp(0.99, OutlierClamp.Granularity.PER_TENSOR).clamp(c.x, 0, c.rows, c.in, new float[c.x.length],
                0, residual);
        float[] delta = residual.toDense();
        int checked = 0;
        for (int i = 0; i < delta.length; i++) {
            if (delta[i] == 0f) {
                continue;
            }
            float[] moved = c.x.clone();
            float h = 0.01f * c.x[i];           // further out, so the element stays clamped
            moved[i] += h;
            double fd = (loss(c, moved) - base) / (moved[i] - c.x[i]);
            assertEquals(dx[i], fd, 1e-3 * Math.abs(dx[i]), "dL/dx at clamped element " + i);
            checked++;
        }
        assertTrue(checked >= 6, "clamped elements checked: " + checked);
    }

    /** Σ dY⊙Y of the layer's forward on x, in double. */
    static double loss(Case c, float[] x) {
        float[] y = new float[c.rows * c.out];
        c.lin.forward(x, y, c.rows);
        double l = 0;
        for (int i = 0; i < y.length; i++) {
            l += (double) c.dy[i] * y[i];
        }
        return l;
    }

    @Test
    void nvfp4RoundsGradientsStochasticallyAndRotatesTheWeightGradientOperands() {
        // 40 tokens: the 16-point transform covers tokens 0..31 of each row, 32..39 stay as they are.
        Case c = new Case(ffn(Recipes.nvfp4()), 40, 32, 24, 4);
        c.lin.setRandomState(11, 3, 1);
        c.run();
        Fp4Scheme sr = Fp4Scheme.nvfp4().withRounding(Rounding.stochastic(Recipes.SR_SEED));
        float[] xh = fp4(c.x, c.rows, c.in, Fp4Scheme.nvfp4());
        float[] wh = fp4(c.w, c.out, c.in, Fp4Scheme.nvfp4_2d());
        check(nt(xh, wh, c.rows, c.out, c.in), c.y, "Y");
        float[] dyq = fp4(c.dy, c.rows, c.out, sr, stream(c, Linear.Operand.DGRAD_DY));
        float[] whT = t(wh, c.out, c.in);   // the forward's 16×16-quantized Ŵ, reused (as TE does)
        check(nt(dyq, whT, c.rows, c.in, c.out), c.dx, "dX");

        RandomHadamard h = RandomHadamard.withSigns(Recipes.TE_RHT_SIGNS);
        float[] a = t(c.dy, c.rows, c.out);   // dYᵀ [out, tokens]
        float[] b = t(c.x, c.rows, c.in);     // Xᵀ [in, tokens]: from the high-precision X, as TE does
        float[] bOld = t(xh, c.rows, c.in);   // X̂ᵀ: the forward's X̂ quantized a second time (before)
        for (int r = 0; r < c.out; r++) {
            h.forward(a, r * c.rows, 1, 32);
        }
        for (int r = 0; r < c.in; r++) {
            h.forward(b, r * c.rows, 1, 32);
            h.forward(bOld, r * c.rows, 1, 32);
        }
        float[] aq = fp4(a, c.out, c.rows, sr, stream(c, Linear.Operand.WGRAD_DY));
        float[] bq = fp4(b, c.in, c.rows, Fp4Scheme.nvfp4());
        check(nt(aq, bq, c.out, c.in, c.rows), c.grad(), "dW");
        // the double-quantized operand gives another gradient: the test tells the two apart
        Expected old = nt(aq, fp4(bOld, c.in, c.rows, Fp4Scheme.nvfp4()), c.out, c.in, c.rows);
        float[] g = c.grad();
        double worst = 0;
        double scale = 0;
        for (int i = 0; i < g.length; i++) {
            worst = Math.max(worst, Math.abs(old.value()[i] - g[i]));
            scale = Math.max(scale, Math.abs(g[i]));
        }
        assertTrue(worst > 1e-3 * scale, "the weight gradient from X̂ would be the same: " + worst + " of " + scale);
    }

    static long stream(Case c, Linear.Operand op) {
        return Linear.roundingStream(11, 3, 1, c.lin.role(), c.lin.layer(), op);
    }

    @Test
    void mxfp4QuantizesEveryGemmInBlocksAlongTheReduction() {
        Case c = new Case(ffn(Recipes.mxfp4()), 16, 64, 32, 5);
        c.lin.setRandomState(11, 3, 1);
        c.run();
        Fp4Scheme mx = Fp4Scheme.mxfp4();
        Fp4Scheme sr = mx.withRounding(Rounding.stochastic(Recipes.SR_SEED));
        float[] xh = fp4(c.x, c.rows, c.in, mx);
        float[] wh = fp4(c.w, c.out, c.in, mx);
        check(nt(xh, wh, c.rows, c.out, c.in), c.y, "Y");
        float[] dyq = fp4(c.dy, c.rows, c.out, sr, stream(c, Linear.Operand.DGRAD_DY));
        check(nt(dyq, fp4(t(wh, c.out, c.in), c.in, c.out, mx), c.rows, c.in, c.out), c.dx, "dX");
        float[] dyT = fp4(t(c.dy, c.rows, c.out), c.out, c.rows, sr, stream(c, Linear.Operand.WGRAD_DY));
        check(nt(dyT, fp4(t(xh, c.rows, c.in), c.in, c.rows, mx), c.out, c.in, c.rows), c.grad(), "dW");
    }

    /** NVIDIA's MXFP4 baseline: scales rounded up, the 32-point transform on the weight gradient. */
    @Test
    void mxfp4NvidiaRoundsScalesUpAndRotatesTheWeightGradientOperands() {
        Case c = new Case(ffn(Recipes.mxfp4Nvidia()), 64, 64, 32, 9);
        c.lin.setRandomState(11, 3, 1);
        c.run();
        Fp4Scheme up = Fp4Scheme.blocks(1, 32, ScaleRule.MX_RCEIL);
        Fp4Scheme sr = up.withRounding(Rounding.stochastic(Recipes.SR_SEED));
        float[] xh = fp4(c.x, c.rows, c.in, up);
        float[] wh = fp4(c.w, c.out, c.in, up);
        check(nt(xh, wh, c.rows, c.out, c.in), c.y, "Y");
        float[] dyq = fp4(c.dy, c.rows, c.out, sr, stream(c, Linear.Operand.DGRAD_DY));
        check(nt(dyq, fp4(t(wh, c.out, c.in), c.in, c.out, up), c.rows, c.in, c.out), c.dx, "dX");
        RandomHadamard h = new RandomHadamard(32, Recipes.HADAMARD_SEED);
        float[] a = t(c.dy, c.rows, c.out);
        float[] b = t(xh, c.rows, c.in);
        h.forward(a, 0, c.out, c.rows);
        h.forward(b, 0, c.in, c.rows);
        float[] aq = fp4(a, c.out, c.rows, sr, stream(c, Linear.Operand.WGRAD_DY));
        check(nt(aq, fp4(b, c.in, c.rows, up), c.out, c.in, c.rows), c.grad(), "dW");
        // the OCP rule (scales rounded down) gives another forward on these inputs
        float[] floor = fp4(c.x, c.rows, c.in, Fp4Scheme.mxfp4());
        assertFalse(Arrays.equals(floor, xh), "MX_RCEIL and MX_FLOOR quantized X alike");
    }

    @Test
    void fp8AndBf16Baselines() {
        Case c = new Case(ffn(Recipes.fp8()), 8, 24, 12, 6).run();
        float[] xh = e4m3(c.x);
        float[] wh = e4m3(c.w);
        check(nt(xh, wh, c.rows, c.out, c.in), c.y, "fp8 Y");
        check(nt(fp8(c.dy, false), e4m3(t(wh, c.out, c.in)), c.rows, c.in, c.out), c.dx, "fp8 dX");
        check(nt(fp8(t(c.dy, c.rows, c.out), false), e4m3(t(xh, c.rows, c.in)), c.out, c.in, c.rows), c.grad(),
                "fp8 dW");

        Case b = new Case(ffn(Recipes.bf16()), 8, 24, 12, 7).run();
        float[] bx = bf16(b.x);
        float[] bw = bf16(b.w);
        check(nt(bx, bw, b.rows, b.out, b.in), b.y, "bf16 Y");
        check(nt(bf16(b.dy), t(bw, b.out, b.in), b.rows, b.in, b.out), b.dx, "bf16 dX");
        check(nt(bf16(t(b.dy, b.rows, b.out)), t(bx, b.rows, b.in), b.out, b.in, b.rows), b.grad(), "bf16 dW");
    }

    @Test
    void stochasticRoundingIsReproducibleFromTheRandomState() {
        float[][] first = runNvfp4(3);
        float[][] again = runNvfp4(3);
        for (int i = 0; i < first.length; i++) {
            assertArrayEquals(first[i], again[i], "output " + i + " under the same random state");
        }
        float[][] other = runNvfp4(4);
        assertArrayEquals(first[0], other[0], "the forward rounds to nearest: independent of the step");
        assertFalse(Arrays.equals(first[1], other[1]), "dX under another step's variates");
        assertFalse(Arrays.equals(first[2], other[2]), "dW under another step's variates");
    }

    /** {y, dx, dW} of one nvfp4 layer at {@code step}. */
    static float[][] runNvfp4(long step) {
        Case c = new Case(ffn(Recipes.nvfp4()), 32, 32, 16, 8);
        c.lin.setRandomState(42, step, 0);
        c.run();
        return new float[][] {c.y, c.dx, c.grad()};
    }

    @Test
    void modelRunsUnderStochasticRoundingAreReproducible() {
        for (String name : new String[] {"nvfp4", "mxfp4"}) {
            float[][] a = trainTiny(name, 0);
            float[][] b = trainTiny(name, 0);
            for (int i = 0; i < a.length; i++) {
                assertArrayEquals(a[i], b[i], name + ": array " + i);
            }
            float[][] c = trainTiny(name, 1);
            assertFalse(Arrays.equals(a[0], c[0]), name + ": another rounding seed, other losses");
        }
    }

    /** Three steps of plain SGD on tiny; returns the losses and the last gradients of every parameter. */
    static float[][] trainTiny(String recipe, long roundingSeed) {
        LlamaModel m = new LlamaModel(LlamaConfig.tiny(), PrecisionRecipe.byName(recipe), 9);
        m.setRoundingSeed(roundingSeed);
        int[] tok = new int[2 * 16];
        for (int i = 0; i < tok.length; i++) {
            tok[i] = (i * 53 + 7) % 256;
        }
        float[] losses = new float[3];
        for (int s = 0; s < 3; s++) {
            m.setStep(s, 3);
            m.parameters().forEach(Parameter::zeroGrad);
            losses[s] = m.forward(tok, tok, 2, 16);
            m.backward();
            for (Parameter p : m.parameters()) {
                float[] d = p.data();
                float[] g = p.grad();
                for (int i = 0; i < d.length; i++) {
                    d[i] -= 0.1f * g[i];
                }
            }
        }
        float[][] out = new float[m.parameters().size() + 1][];
        out[0] = losses;
        for (int i = 0; i < m.parameters().size(); i++) {
            out[i + 1] = m.parameters().get(i).grad().clone();
        }
        return out;
    }

    @Test
    void nonFiniteInputNamesTheLayerAndTheElement() {
        Case c = new Case(ffn(Recipes.fp4Direct()), 4, 8, 4, 9);
        c.x[13] = Float.NaN;
        var e = assertThrows(IllegalArgumentException.class, () -> c.lin.forward(c.x, c.y, c.rows));
        assertTrue(e.getMessage().contains("blocks.0.ffn.w3") && e.getMessage().contains("row 1, col 5"),
                e.getMessage());
        assertThrows(IllegalStateException.class, () -> c.lin.backward(c.dy, c.dx, false),
                "a failed forward leaves nothing to run backward on");
        Case d = new Case(ffn(Recipes.fp4DgeOcc()), 4, 8, 4, 9);
        d.x[2] = Float.POSITIVE_INFINITY;
        var f = assertThrows(IllegalArgumentException.class, () -> d.lin.forward(d.x, d.y, d.rows));
        assertTrue(f.getMessage().contains("clamping") && f.getMessage().contains("[0, 2]"), f.getMessage());
    }
}
