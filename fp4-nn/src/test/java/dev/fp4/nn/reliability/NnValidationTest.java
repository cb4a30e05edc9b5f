package dev.fp4.nn.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.quant.RandomHadamard;
import dev.fp4.nn.Attention;
import dev.fp4.nn.CrossEntropy;
import dev.fp4.nn.Embedding;
import dev.fp4.nn.FeedForward;
import dev.fp4.nn.Linear;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.RMSNorm;
import dev.fp4.nn.Rope;
import dev.fp4.nn.Softmax;
import dev.fp4.nn.SwiGLU;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.checkpoint.DType;
import dev.fp4.nn.data.BatchSampler;
import dev.fp4.nn.data.ByteTokenizer;
import dev.fp4.nn.data.Split;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.optim.AdamW;
import dev.fp4.nn.optim.GradientClipping;
import dev.fp4.nn.optim.LearningRateSchedule;
import dev.fp4.nn.optim.MomentPrecision;
import dev.fp4.nn.recipe.GemmPrecision;
import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.OutlierClamping;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.recipe.Recipes;
import dev.fp4.nn.recipe.WeightGradientEstimator;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.core.quant.OutlierClamp;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every public entry point of fp4-nn given a bad input: the exception type and what its message
 * must name (expected and actual shapes, the offending index, the valid names). Each row also
 * checks, where it applies, that the call left its outputs and the layer's parameters unchanged
 * (validation happens before any write). Rows are printed as {@code BADINPUT | ...} lines for
 * docs/reliability.md.
 */
class NnValidationTest {

    @TempDir
    static Path dir;

    static final LlamaConfig CFG = LlamaConfig.tiny();

    static float[] ramp(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = 0.125f * (i % 11) - 0.5f;
        }
        return x;
    }

    static Linear linear(int in, int out) {
        Linear l = new Linear("w", LinearRole.FFN_UP, 0, in, out);
        System.arraycopy(ramp(in * out), 0, l.weight().data(), 0, in * out);
        return l;
    }

    /** Holds a copy of an array and checks later that it is unchanged. */
    static org.junit.jupiter.api.function.Executable unchanged(float[] a) {
        float[] copy = a.clone();
        return () -> assertArrayEquals(copy, a, "input or output modified by a rejected call");
    }

    static TrainingConfig config(int steps, int batch, int seq, int accum, double lr, double warm, double floor, double wd,
                                 double clip, MomentPrecision m, int evalEvery, int evalBatches, int ckptEvery, double div) {
        return new TrainingConfig(steps, batch, seq, accum, lr, warm, floor, wd, clip, m, evalEvery, evalBatches, ckptEvery, 1, div);
    }

    static List<BadInput> table() throws IOException {
        List<BadInput> t = new ArrayList<>();
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;

        // ---- Linear (y = x·Wᵀ, W [out=6, in=8])
        {
            Linear l = linear(8, 6);
            float[] y = new float[18];
            t.add(BadInput.of("Linear.forward(x = null)", npe, () -> l.forward(null, y, 3), "x"));
            t.add(BadInput.of("Linear.forward(rows = 0)", iae, () -> l.forward(new float[24], y, 0), "w", "rows must be positive, got 0"));
            t.add(BadInput.of("Linear.forward(x shorter than [rows, in])", iae, () -> l.forward(new float[20], y, 3),
                    "w: x must hold [3, 8] = 24 elements, has 20").then(unchanged(y)));
            t.add(BadInput.of("Linear.forward(y shorter than [rows, out])", iae, () -> l.forward(new float[24], new float[17], 3),
                    "y must hold [3, 6] = 18 elements, has 17"));
            Linear fresh = linear(8, 6);
            t.add(BadInput.of("Linear.backward before forward", ise, () -> fresh.backward(new float[18], new float[24], false),
                    "backward() without a forward()"));
            Linear fwd = linear(8, 6);
            fwd.forward(ramp(24), new float[18], 3);
            t.add(BadInput.of("Linear.backward(dy shorter than [rows, out])", iae, () -> fwd.backward(new float[10], new float[24], false),
                    "dy must hold [3, 6] = 18 elements, has 10").then(unchanged(fwd.weight().grad())));
            t.add(BadInput.of("Linear.backward(dx shorter than [rows, in])", iae, () -> fwd.backward(new float[18], new float[23], false),
                    "dx must hold [3, 8] = 24 elements, has 23").then(unchanged(fwd.weight().grad())));
            t.add(BadInput.of("Linear over a 1-D weight", iae, () -> new Linear(new Parameter("v", 8), LinearRole.FFN_UP, 0),
                    "v: a linear weight must be 2-D"));
            t.add(BadInput.of("Linear.setPrecision(null)", npe, () -> l.setPrecision(null), "precision"));
            // NaN input under an FP4 recipe: the per-token absmax quantizer rejects it with the element's position
            Linear q = linear(8, 6);
            q.setPrecision(Recipes.fp4Direct().precision(LinearRole.FFN_UP, 0, 2));
            float[] xNaN = ramp(24);
            xNaN[13] = Float.NaN;
            float[] yq = new float[18];
            t.add(BadInput.of("Linear.forward under fp4-direct, NaN in x[1, 5]", iae, () -> q.forward(xNaN, yq, 3),
                    "w", "the input X", "NaN").then(unchanged(yq)));
            float[] xInf = ramp(24);
            xInf[2] = Float.POSITIVE_INFINITY;
            t.add(BadInput.of("Linear.forward under fp4-direct, +Inf in x[0, 2]", iae, () -> q.forward(xInf, yq, 3),
                    "the input X", "Infinity"));
        }

        // ---- RMSNorm over dim 8
        {
            RMSNorm n = new RMSNorm("norm", 8, 1e-5f);
            float[] y = new float[16];
            float[] inv = new float[2];
            t.add(BadInput.of("RMSNorm.forward(x = null)", npe, () -> n.forward(null, y, inv, 0, 2), "x"));
            t.add(BadInput.of("RMSNorm.forward(rows = 0)", iae, () -> n.forward(new float[16], y, inv, 0, 0), "norm", "rows must be positive"));
            t.add(BadInput.of("RMSNorm.forward(x shorter than [rows, dim])", iae, () -> n.forward(new float[15], y, inv, 0, 2),
                    "norm: x must hold [2, 8] = 16 elements, has 15").then(unchanged(y)));
            t.add(BadInput.of("RMSNorm.forward(y shorter than [rows, dim])", iae, () -> n.forward(new float[16], new float[8], inv, 0, 2),
                    "norm: y must hold [2, 8] = 16 elements, has 8"));
            t.add(BadInput.of("RMSNorm.forward(inv offset past the end)", iae, () -> n.forward(new float[16], y, inv, 1, 2),
                    "norm: inv", "[1, 3)", "length 2").then(unchanged(y)));
            t.add(BadInput.of("RMSNorm.forward(negative inv offset)", iae, () -> n.forward(new float[16], y, inv, -1, 2),
                    "norm: inv", "-1"));
            t.add(BadInput.of("RMSNorm.backward(dx shorter than [rows, dim])", iae,
                    () -> n.backward(new float[16], inv, 0, new float[16], new float[9], 2), "norm: dx must hold [2, 8] = 16 elements, has 9")
                    .then(unchanged(n.weight().grad())));
            t.add(BadInput.of("RMSNorm(eps = 0)", iae, () -> new RMSNorm("norm", 8, 0f), "eps must be positive and finite, got 0.0"));
            t.add(BadInput.of("RMSNorm(eps = NaN)", iae, () -> new RMSNorm("norm", 8, Float.NaN), "NaN"));
            t.add(BadInput.of("RMSNorm(dim = 0)", iae, () -> new RMSNorm("norm", 0, 1e-5f), "norm", "dimensions must be positive"));
        }

        // ---- Embedding [vocab 10, dim 4]
        {
            Embedding e = new Embedding("tok", 10, 4);
            float[] out = new float[12];
            t.add(BadInput.of("Embedding.forward(token id = vocab)", iae, () -> e.forward(new int[] {1, 2, 10}, 3, out),
                    "tok: tokens[2] = 10 is outside [0, 10)").then(unchanged(out)));
            t.add(BadInput.of("Embedding.forward(negative token id)", iae, () -> e.forward(new int[] {-3, 2, 1}, 3, out),
                    "tokens[0] = -3 is outside [0, 10)"));
            t.add(BadInput.of("Embedding.forward(count > tokens.length)", iae, () -> e.forward(new int[2], 3, out),
                    "tok: count 3", "tokens has 2"));
            t.add(BadInput.of("Embedding.forward(out shorter than [count, dim])", iae, () -> e.forward(new int[3], 3, new float[11]),
                    "tok: out must hold [3, 4] = 12 elements, has 11"));
            t.add(BadInput.of("Embedding.forward(tokens = null)", npe, () -> e.forward(null, 3, out), "tokens"));
            t.add(BadInput.of("Embedding.backward(token id = vocab)", iae, () -> e.backward(new int[] {0, 11, 1}, 3, new float[12]),
                    "tok: tokens[1] = 11 is outside [0, 10)").then(unchanged(e.table().grad())));
            t.add(BadInput.of("Embedding.backward(dOut shorter than [count, dim])", iae, () -> e.backward(new int[3], 3, new float[5]),
                    "tok: dOut must hold [3, 4] = 12 elements, has 5").then(unchanged(e.table().grad())));
        }

        // ---- CrossEntropy over [rows 2, vocab 5]
        {
            float[] logits = ramp(10);
            float[] out = new float[10];
            t.add(BadInput.of("CrossEntropy.forward(target = vocab)", iae, () -> CrossEntropy.forward(logits, new int[] {1, 5}, 2, 5, out, true),
                    "targets[1] = 5 is outside [0, 5)").then(unchanged(out)));
            t.add(BadInput.of("CrossEntropy.forward(negative target)", iae, () -> CrossEntropy.forward(logits, new int[] {-1, 0}, 2, 5, out, true),
                    "targets[0] = -1 is outside [0, 5)"));
            t.add(BadInput.of("CrossEntropy.forward(logits shorter than [rows, vocab])", iae,
                    () -> CrossEntropy.forward(new float[9], new int[2], 2, 5, out, true), "logits must hold [2, 5] = 10 elements, has 9"));
            t.add(BadInput.of("CrossEntropy.forward(out shorter than [rows, vocab])", iae,
                    () -> CrossEntropy.forward(logits, new int[2], 2, 5, new float[3], true), "out must hold [2, 5] = 10 elements, has 3"));
            t.add(BadInput.of("CrossEntropy.forward(targets shorter than rows)", iae,
                    () -> CrossEntropy.forward(logits, new int[1], 2, 5, out, true), "targets has 1 elements, need rows = 2"));
            t.add(BadInput.of("CrossEntropy.forward(rows = 0)", iae, () -> CrossEntropy.forward(logits, new int[2], 0, 5, out, true),
                    "rows and vocab must be positive, got 0 and 5"));
        }

        // ---- element-wise kernels over arrays with offsets: IndexOutOfBoundsException (the fp4-core convention)
        {
            Class<IndexOutOfBoundsException> ioobe = IndexOutOfBoundsException.class;
            float[] h = new float[8];
            t.add(BadInput.of("SwiGLU.forward(h range past the end)", ioobe, () -> SwiGLU.forward(ramp(16), 0, ramp(16), 0, h, 2, 8),
                    "Range [2, 2 + 8) out of bounds for length 8").then(unchanged(h)));
            t.add(BadInput.of("SwiGLU.forward(negative offset)", ioobe, () -> SwiGLU.forward(ramp(16), -1, ramp(16), 0, new float[16], 0, 8),
                    "Range [-1, -1 + 8) out of bounds for length 16"));
            float[] dg = new float[8];
            t.add(BadInput.of("SwiGLU.backward(du shorter than n)", ioobe,
                    () -> SwiGLU.backward(ramp(8), 0, ramp(8), 0, ramp(8), 0, dg, 0, new float[7], 0, 8), "Range [0, 0 + 8) out of bounds for length 7")
                    .then(unchanged(dg)));
            float[] dst = new float[6];
            t.add(BadInput.of("Softmax.forward(src range past the end)", ioobe, () -> Softmax.forward(ramp(6), 3, dst, 0, 6, 1f),
                    "Range [3, 3 + 6) out of bounds for length 6").then(unchanged(dst)));
            t.add(BadInput.of("Softmax.forward(len 0)", iae, () -> Softmax.forward(ramp(6), 0, dst, 0, 0, 1f), "softmax needs len >= 1, got 0"));
            float[] ds = new float[6];
            t.add(BadInput.of("Softmax.backward(dp shorter than len)", ioobe, () -> Softmax.backward(ramp(6), 0, ramp(5), 0, ds, 0, 6, 1f),
                    "Range [0, 0 + 6) out of bounds for length 5").then(unchanged(ds)));
        }

        // ---- Rope, Attention, FeedForward of the tiny preset
        {
            Rope rope = new Rope(CFG.headDim(), CFG.maxSeq(), CFG.ropeTheta());
            t.add(BadInput.of("Rope(odd head dimension)", iae, () -> new Rope(7, 16, 10000), "head dimension must be even and positive, got 7"));
            t.add(BadInput.of("Rope.apply(seq 128 > maxSeq)", iae, () -> rope.apply(new float[CFG.dim() * 128], 128, 128, CFG.heads(), false),
                    "sequence length 128 exceeds maxSeq " + CFG.maxSeq()));
            float[] xr = new float[CFG.dim() * 4 - 1];
            t.add(BadInput.of("Rope.apply(x shorter than [rows, heads·headDim])", iae, () -> rope.apply(xr, 4, 4, CFG.heads(), false),
                    "x must hold [4, " + CFG.dim() + "] = " + 4 * CFG.dim() + " elements, has " + xr.length).then(unchanged(xr)));
            t.add(BadInput.of("Rope.apply(rows not a multiple of seq)", iae, () -> rope.apply(new float[CFG.dim() * 5], 5, 4, CFG.heads(), false),
                    "rows 5", "multiple of seq 4"));
            Attention a = new Attention("layers.0.attention.", 0, CFG, rope);
            int dim = CFG.dim();
            t.add(BadInput.of("Attention.forward(x shorter than [batch·seq, dim])", iae, () -> a.forward(new float[2 * 4 * dim - 1], new float[2 * 4 * dim], 2, 4),
                    "layers.0.attention.wq", "x must hold [8, " + dim + "]"));
            t.add(BadInput.of("Attention.forward(y shorter than [batch·seq, dim])", iae, () -> a.forward(new float[8 * dim], new float[8 * dim - 3], 2, 4),
                    "layers.0.attention", "y must hold [8, " + dim + "]"));
            t.add(BadInput.of("Attention.forward(batch = 0)", iae, () -> a.forward(new float[8 * dim], new float[8 * dim], 0, 4),
                    "batch and seq must be positive, got batch 0, seq 4"));
            t.add(BadInput.of("Attention.forward(seq 128 > maxSeq)", iae, () -> a.forward(new float[128 * dim], new float[128 * dim], 1, 128),
                    "seq 128 exceeds maxSeq " + CFG.maxSeq()));
            FeedForward f = new FeedForward("layers.0.feed_forward.", 0, CFG);
            t.add(BadInput.of("FeedForward.forward(x shorter than [rows, dim])", iae, () -> f.forward(new float[3 * dim - 1], new float[3 * dim], 3),
                    "layers.0.feed_forward.w1", "x must hold [3, " + dim + "]"));
            t.add(BadInput.of("FeedForward.forward(y shorter than [rows, dim])", iae, () -> f.forward(new float[3 * dim], new float[dim], 3),
                    "layers.0.feed_forward", "y must hold [3, " + dim + "]"));
        }

        // ---- LlamaModel (tiny, fp32)
        {
            LlamaModel m = new LlamaModel(CFG, PrecisionRecipe.FP32, 1);
            int[] ok = new int[8];
            t.add(BadInput.of("LlamaModel.forward(tokens = null)", npe, () -> m.forward(null, ok, 2, 4), "tokens"));
            t.add(BadInput.of("LlamaModel.forward(token id 256 for vocab 256)", iae, () -> m.forward(new int[] {0, 1, 2, 256, 4, 5, 6, 7}, ok, 2, 4),
                    "tokens[3] = 256 is outside [0, 256)"));
            t.add(BadInput.of("LlamaModel.forward(targets shorter than batch·seq)", iae, () -> m.forward(ok, new int[7], 2, 4),
                    "targets has 7 ids, need batch*seq = 8"));
            t.add(BadInput.of("LlamaModel.forward(seq > maxSeq)", iae, () -> m.forward(new int[1024], new int[1024], 1, 1024),
                    "seq 1024 exceeds the model's maxSeq " + CFG.maxSeq()));
            t.add(BadInput.of("LlamaModel.forward(batch = 0)", iae, () -> m.forward(ok, ok, 0, 4), "batch and seq must be positive"));
            t.add(BadInput.of("LlamaModel.backward() before forward", ise, m::backward, "backward() needs a forward() first"));
            t.add(BadInput.of("LlamaModel.setStep(5, 3)", iae, () -> m.setStep(5, 3), "0 <= step <= totalSteps", "step 5 of 3"));
            t.add(BadInput.of("LlamaModel(recipe = null)", npe, () -> new LlamaModel(CFG, null, 1), "recipe"));
            t.add(BadInput.of("LlamaModel.setRecipe(null)", npe, () -> m.setRecipe(null), "recipe"));
        }

        // ---- configuration and names
        t.add(BadInput.of("LlamaConfig.preset(\"huge\")", iae, () -> LlamaConfig.preset("huge"), "huge", "tiny", "small"));
        t.add(BadInput.of("LlamaConfig dim not a multiple of heads", iae, () -> new LlamaConfig(256, 30, 1, 4, 4, 64, 16),
                "dim 30 is not a multiple of heads 4"));
        t.add(BadInput.of("LlamaConfig kvHeads not dividing heads", iae, () -> new LlamaConfig(256, 32, 1, 4, 3, 64, 16),
                "kvHeads 3 does not divide heads 4"));
        t.add(BadInput.of("LlamaConfig vocab = 0", iae, () -> new LlamaConfig(0, 32, 1, 4, 4, 64, 16), "vocab must be positive, got 0"));
        t.add(BadInput.of("PrecisionRecipe.byName(\"fp5\")", iae, () -> PrecisionRecipe.byName("fp5"), "unknown precision recipe 'fp5'",
                String.join(", ", PrecisionRecipe.names())));
        t.add(BadInput.of("PrecisionRecipe.byName(null)", iae, () -> PrecisionRecipe.byName(null), "unknown precision recipe 'null'",
                String.join(", ", PrecisionRecipe.names())));
        t.add(BadInput.of("PrecisionRecipe.builder(\" \")", iae, () -> PrecisionRecipe.builder(" "), "a recipe needs a non-blank name"));
        t.add(BadInput.of("PrecisionRecipe target fraction 1.5", iae,
                () -> PrecisionRecipe.builder("x").targetPrecision(Recipes.bf16(), 1.5), "target fraction must be in (0, 1), got 1.5"));
        t.add(BadInput.of("PrecisionRecipe firstBlocks(-1)", iae, () -> PrecisionRecipe.builder("x").firstBlocks(-1, LinearPrecision.FP32),
                "block count must be >= 0, got -1"));
        t.add(BadInput.of("Recipes.fp4Modulewise(block 0)", iae, () -> Recipes.fp4Modulewise("m", 0, Recipes.bf16(), 0.1),
                "block size must be positive, got 0"));
        t.add(BadInput.of("LinearPrecision: DGE over an FP32 forward weight", iae,
                () -> new LinearPrecision(GemmPrecision.FP32, GemmPrecision.FP32, GemmPrecision.FP32,
                        Recipes.fp4DgeOcc().precision(LinearRole.FFN_UP, 0, 2).estimator()),
                "needs an FP4 (E2M1) forward weight format", "fp32"));
        t.add(BadInput.of("LinearPrecision: Hadamard on the forward GeMM", iae,
                () -> new LinearPrecision(GemmPrecision.FP32.withHadamard(new RandomHadamard(7)), GemmPrecision.FP32, GemmPrecision.FP32,
                        WeightGradientEstimator.STE), "Hadamard transform is supported on the backward GeMMs only"));
        t.add(BadInput.of("LinearPrecision(forward = null)", npe,
                () -> new LinearPrecision(null, GemmPrecision.FP32, GemmPrecision.FP32, WeightGradientEstimator.STE), "forward"));
        t.add(BadInput.of("OutlierClamping(alpha 0.4)", iae, () -> new OutlierClamping(0.4, OutlierClamp.Granularity.PER_TENSOR, true),
                "alpha must be in (0.5, 1], got 0.4"));
        t.add(BadInput.of("MomentPrecision.parse(\"fp9\")", iae, () -> MomentPrecision.parse("fp9"), "unknown moment precision \"fp9\"",
                "FP32", "BF16", "FP8_FP16"));
        t.add(BadInput.of("DType.parse(\"F8\")", iae, () -> DType.parse("F8"), "unsupported dtype \"F8\"", "F32"));

        // ---- TrainingConfig: each bad field is named
        MomentPrecision fp32 = MomentPrecision.FP32;
        t.add(BadInput.of("TrainingConfig steps 0", iae, () -> config(0, 4, 8, 1, 1e-3, 0.1, 0.1, 0.1, 1, fp32, 5, 2, 0, 3), "steps must be positive, got 0"));
        t.add(BadInput.of("TrainingConfig batch -1", iae, () -> config(10, -1, 8, 1, 1e-3, 0.1, 0.1, 0.1, 1, fp32, 5, 2, 0, 3), "batch must be positive, got -1"));
        t.add(BadInput.of("TrainingConfig accumulation 0", iae, () -> config(10, 4, 8, 0, 1e-3, 0.1, 0.1, 0.1, 1, fp32, 5, 2, 0, 3),
                "accumulation must be positive, got 0"));
        t.add(BadInput.of("TrainingConfig peakLr NaN", iae, () -> config(10, 4, 8, 1, Double.NaN, 0.1, 0.1, 0.1, 1, fp32, 5, 2, 0, 3),
                "peakLr must be positive, got NaN"));
        t.add(BadInput.of("TrainingConfig peakLr +Inf", iae, () -> config(10, 4, 8, 1, Double.POSITIVE_INFINITY, 0.1, 0.1, 0.1, 1, fp32, 5, 2, 0, 3),
                "peakLr must be positive, got Infinity"));
        t.add(BadInput.of("TrainingConfig warmupFraction 1.5", iae, () -> config(10, 4, 8, 1, 1e-3, 1.5, 0.1, 0.1, 1, fp32, 5, 2, 0, 3),
                "warmupFraction and floorFraction must be in [0, 1], got 1.5"));
        t.add(BadInput.of("TrainingConfig clipNorm NaN", iae, () -> config(10, 4, 8, 1, 1e-3, 0.1, 0.1, 0.1, Double.NaN, fp32, 5, 2, 0, 3),
                "clipNorm >= 0", "NaN"));
        t.add(BadInput.of("TrainingConfig divergenceFactor 1", iae, () -> config(10, 4, 8, 1, 1e-3, 0.1, 0.1, 0.1, 1, fp32, 5, 2, 0, 1),
                "divergenceFactor > 1"));
        t.add(BadInput.of("TrainingConfig checkpointInterval -5", iae, () -> config(10, 4, 8, 1, 1e-3, 0.1, 0.1, 0.1, 1, fp32, 5, 2, -5, 3),
                "checkpointInterval must be >= 0, got -5"));
        t.add(BadInput.of("TrainingConfig evalBatches 0", iae, () -> config(10, 4, 8, 1, 1e-3, 0.1, 0.1, 0.1, 1, fp32, 5, 0, 0, 3),
                "evalBatches must be positive, got 0"));
        t.add(BadInput.of("TrainingConfig moments null", npe, () -> config(10, 4, 8, 1, 1e-3, 0.1, 0.1, 0.1, 1, null, 5, 2, 0, 3), "moments"));

        // ---- optimizer, schedule, clipping, checkpoint directory
        Parameter p = new Parameter("p", 2, 2);
        t.add(BadInput.of("AdamW duplicate parameter names", iae, () -> new AdamW(List.of(p, new Parameter("p", 3)),
                AdamW.Settings.paper(fp32)), "duplicate parameter name \"p\""));
        t.add(BadInput.of("AdamW.Settings beta1 = 1", iae, () -> new AdamW.Settings(1.0, 0.95, 1e-8, 0.1, fp32,
                AdamW.Settings.paper(fp32).decayRule()), "betas must be in [0, 1), got 1.0"));
        AdamW opt = new AdamW(List.of(p), AdamW.Settings.paper(fp32));
        t.add(BadInput.of("AdamW.step(lr = NaN)", iae, () -> opt.step(Double.NaN), "learning rate must be non-negative and finite, got NaN")
                .then(unchanged(p.data())));
        t.add(BadInput.of("LearningRateSchedule warm-up longer than the run", iae, () -> LearningRateSchedule.warmupCosine(1e-3, 20, 10, 0.1),
                "0 <= warmupSteps <= totalSteps", "20"));
        t.add(BadInput.of("LearningRateSchedule.at(-1)", iae, () -> LearningRateSchedule.warmupCosine(1e-3, 2, 10, 0.1).at(-1), "negative step -1"));
        t.add(BadInput.of("GradientClipping maxNorm 0", iae, () -> GradientClipping.clipGlobalNorm(List.of(p), 0), "maxNorm must be positive and finite, got 0.0"));
        t.add(BadInput.of("CheckpointDirectory keep 0", iae, () -> new CheckpointDirectory(dir, 0), "keep must be at least 1, got 0"));

        // ---- data
        Path missing = dir.resolve("missing.txt");
        t.add(BadInput.of("TextDataset.fromFile(missing)", NoSuchFileException.class, () -> TextDataset.fromFile(missing), "missing.txt",
                "data file not found"));
        Path empty = Files.write(dir.resolve("empty.txt"), new byte[0]);
        t.add(BadInput.of("TextDataset.fromFile(empty file)", IOException.class, () -> TextDataset.fromFile(empty), "empty.txt", "is empty"));
        Path sub = Files.createDirectories(dir.resolve("adir"));
        t.add(BadInput.of("TextDataset.fromFile(directory)", IOException.class, () -> TextDataset.fromFile(sub), "adir", "is a directory"));
        Path shortFile = Files.writeString(dir.resolve("short.txt"), "to be or not");
        TextDataset shortData = TextDataset.fromFile(shortFile);
        t.add(BadInput.of("TextDataset too short for seq 64", iae, () -> shortData.requireWindows(64), "short.txt", "too small", "12 bytes"));
        t.add(BadInput.of("TextDataset.sampler(batch 0)", iae, () -> shortData.sampler(Split.TRAIN, 0, 4, 1), "batch size must be positive, got 0"));
        t.add(BadInput.of("TextDataset.fromBytes(empty)", iae, () -> TextDataset.fromBytes("mem", new byte[0]), "dataset mem is empty"));
        t.add(BadInput.of("TextDataset.sampler(seq 4) on 12 bytes (validation split of 1 byte)", iae,
                () -> shortData.sampler(Split.TRAIN, 1, 4, 1), "short.txt", "11 training and 1 validation bytes", "at least seq + 1 = 5"));
        BatchSampler sampler = TextDataset.fromBytes("mem", new byte[200]).sampler(Split.TRAIN, 1, 4, 1);
        t.add(BadInput.of("BatchSampler.seek(-1)", iae, () -> sampler.seek(-1), "negative batch index -1"));
        t.add(BadInput.of("ByteTokenizer.INSTANCE.decode(token 300)", iae, () -> ByteTokenizer.INSTANCE.decode(new int[] {65, 300}),
                "token 300 at index 1 is outside [0, 256)"));
        TrainingConfig tooLong = TrainingConfig.defaults().withBatch(2, 64);
        t.add(BadInput.of("Trainer on a dataset shorter than seq", iae,
                () -> new Trainer(new dev.fp4.nn.train.LlamaTrainable(new LlamaModel(CFG, PrecisionRecipe.FP32, 1)), shortData, tooLong, null),
                "short.txt", "too small"));
        return t;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void badInputIsRejectedWithAMessageNamingIt(BadInput row) throws Throwable {
        row.verify();
    }

    /** Non-UTF-8 bytes are data for the byte-level tokenizer: read as they are, not rejected. */
    @Test
    void nonUtf8FilesAreReadByteForByte() throws IOException {
        byte[] bytes = new byte[300];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 37 + 0x80);  // mostly invalid UTF-8 (lone continuation bytes)
        }
        Path f = Files.write(dir.resolve("latin.bin"), bytes);
        TextDataset d = TextDataset.fromFile(f);
        assertEquals(300, d.size());
        int[] train = d.tokens(Split.TRAIN);
        int[] val = d.tokens(Split.VALIDATION);
        assertEquals(270, train.length, "the last floor(n/10) bytes are the validation split");
        for (int i = 0; i < 300; i++) {
            int tok = i < 270 ? train[i] : val[i - 270];
            assertEquals(bytes[i] & 0xFF, tok, "byte " + i);
        }
    }

    /**
     * The documented NaN behaviour under FP32 (no quantizer to reject it): NaN propagates to the loss
     * and forward() refuses to return it as a number; the Trainer's guard turns this into a stop.
     */
    @Test
    void nanParametersUnderFp32FailTheForwardNamingTheLoss() throws Throwable {
        LlamaModel m = new LlamaModel(CFG, PrecisionRecipe.FP32, 1);
        m.parameters().get(0).data()[0] = Float.NaN;   // token 0's embedding
        int[] tok = new int[8];
        BadInput.of("LlamaModel.forward with a NaN parameter (fp32)", ArithmeticException.class, () -> m.forward(tok, tok, 2, 4),
                "loss is NaN (recipe fp32)").verify();
    }

    /**
     * Under an FP4 recipe the NaN never reaches the loss: the first quantizer that meets it rejects
     * it, and the model reports that as a non-finite forward (what the trainer's guard stops on),
     * naming the layer, the operand and the element; backward() is then refused.
     */
    @Test
    void nanWeightsUnderFp4AreReportedAsANonFiniteForwardNamingTheLayer() throws Throwable {
        LlamaModel m = new LlamaModel(CFG, Recipes.fp4Direct(), 1);
        int[] tok = new int[8];
        m.forward(tok, tok, 2, 4);                            // a good step first: backward would be possible
        Parameter wq = m.parameters().stream().filter(p -> p.name().contains("wq")).findFirst().orElseThrow();
        wq.data()[5] = Float.NaN;
        BadInput.of("LlamaModel.forward with a NaN weight (fp4-direct)", ArithmeticException.class, () -> m.forward(tok, tok, 2, 4),
                "non-finite value in the forward pass (recipe fp4-direct)", wq.name(), "quantizing the weight W", "NaN", "col 5").verify();
        BadInput.of("LlamaModel.backward after a failed forward", IllegalStateException.class, m::backward,
                "backward() needs a forward() first").verify();
    }
}
