package dev.fp4.nn.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.nn.CapacityException;
import dev.fp4.nn.Linear;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.recipe.GemmPrecision;
import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.OperandFormat;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.recipe.WeightGradientEstimator;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.nn.train.TrainingResult;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The ways a run was lost or a failure mislabelled (issue "checkpoints and errors that hold at
 * scale"), each held here: capacity errors are not divergence, sizes are formed in long, every
 * recipe keeps its own copy of a linear layer's input, zero block scales give finite gradients,
 * resume refuses another run, the rounding seed comes from the training seed.
 */
class RunSafetyTest {
    static final TextDataset DATA = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).dataset(60_000, 5);

    @TempDir
    Path dir;

    @Test
    void aBufferTooLargeForAnArrayEndsTheRunAsFailedNamingTheSizeNotAsNonFinite() {
        // vocab 2^20 × 2,048 tokens: the logits would hold 2^31 floats
        LlamaConfig cfg = new LlamaConfig(1 << 20, 8, 1, 1, 1, 16, 2048);
        LlamaTrainable m = new LlamaTrainable(new LlamaModel(cfg, PrecisionRecipe.FP32, 1));
        TextDataset data = TextDataset.fromBytes("bytes", MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).sample(30_000, 1));
        TrainingResult r = new Trainer(m, data, TrainingConfig.defaults().withSteps(2).withBatch(1, 2048), null).run();
        assertEquals(TrainingResult.Status.FAILED, r.status(), r.message());
        assertEquals("stopped at step 1: the model failed (fp32 recipe): CapacityException: buffer of 2147483648 floats is too large "
                + "for one array (at most 2147483639)", r.message());
    }

    @Test
    void activationSizesAreFormedInLongSoTheGuardSeesThem() {
        // 2^25 tokens × dim 64 = 2^31 floats: in int arithmetic the size wraps to a negative number
        LlamaConfig cfg = new LlamaConfig(256, 64, 1, 4, 4, 64, 1024);
        LlamaModel m = new LlamaModel(cfg, PrecisionRecipe.FP32, 1);
        int batch = 1 << 15;
        int seq = 1024;
        int[] tokens = new int[batch * seq];
        CapacityException e = assertThrows(CapacityException.class, () -> m.forward(tokens, tokens, batch, seq));
        assertTrue(e.getMessage().startsWith("buffer of 2147483648 floats is too large"), e.getMessage());
    }

    @Test
    void aNonFiniteWeightIsStillReportedAsNonFinite() {
        LlamaModel m = new LlamaModel(LlamaConfig.tiny(), PrecisionRecipe.byName("fp4-dge-occ"), 1);
        m.blocks().get(0).attention().linears().get(0).weight().data()[3] = Float.NaN;
        int[] t = new int[64];
        ArithmeticException e = assertThrows(ArithmeticException.class, () -> m.forward(t, t, 1, 64));
        assertTrue(e.getMessage().startsWith("non-finite value in the forward pass (recipe fp4-dge-occ): layers.0.attn.wq: "),
                e.getMessage());
    }

    static Stream<String> recipes() {
        return PrecisionRecipe.names().stream();
    }

    @ParameterizedTest
    @MethodSource("recipes")
    void everyRecipeKeepsWhatItsBackwardNeedsSoChangingXAfterForwardChangesNothing(String recipe) {
        float[] kept = weightGradient(recipe, false);
        float[] changed = weightGradient(recipe, true);
        assertArrayEquals(kept, changed, recipe);
    }

    /** dW of one FFN layer under the recipe's precision, overwriting x between forward and backward when asked. */
    static float[] weightGradient(String recipe, boolean overwrite) {
        int rows = 32;
        int in = 64;
        int out = 48;
        Linear lin = new Linear("layers.0.ffn.w1", LinearRole.FFN_GATE, 0, in, out);
        lin.setPrecision(PrecisionRecipe.byName(recipe).precision(LinearRole.FFN_GATE, 0, 4));
        SplittableRandom r = new SplittableRandom(4);
        float[] w = lin.weight().data();
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (0.1 * r.nextGaussian());
        }
        float[] x = gaussian(r, rows * in);
        float[] dy = gaussian(r, rows * out);
        lin.forward(x, new float[rows * out], rows);
        if (overwrite) {
            java.util.Arrays.fill(x, 7f);                  // the caller reuses its buffer
        }
        lin.backward(dy, new float[rows * in], false);
        return lin.weight().grad().clone();
    }

    static float[] gaussian(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    static Stream<Fp4Scheme> schemes() {
        return Stream.of(Fp4Scheme.perTensor(), Fp4Scheme.perRow(), Fp4Scheme.mxfp4(), Fp4Scheme.nvfp4(), Fp4Scheme.nvfp4_2d());
    }

    @ParameterizedTest
    @MethodSource("schemes")
    void aBlockWithAZeroScaleGetsTheStraightThroughGradientUnderTheDge(Fp4Scheme scheme) {
        int rows = 32;
        int in = 32;
        int out = 32;
        Linear lin = new Linear("w", LinearRole.FFN_GATE, 0, in, out);
        GemmPrecision fwd = new GemmPrecision(OperandFormat.FP32, OperandFormat.fp4(scheme));
        lin.setPrecision(new LinearPrecision(fwd, GemmPrecision.FP32, GemmPrecision.FP32, WeightGradientEstimator.dge()));
        SplittableRandom r = new SplittableRandom(9);
        float[] w = lin.weight().data();
        for (int i = 0; i < w.length; i++) {
            // the first 16×16 block holds values 10^-7 of the rest: NVFP4 rounds its E4M3 scale to 0
            boolean tiny = i / in < 16 && i % in < 16;
            w[i] = (float) ((tiny ? 1e-7 : 1.0) * r.nextGaussian());
        }
        float[] x = gaussian(r, rows * in);
        float[] dy = gaussian(r, rows * out);
        lin.forward(x, new float[rows * out], rows);
        lin.backward(dy, null, false);
        float[] g = lin.weight().grad();
        // dŴ = dYᵀ·X in FP32 (the backward GeMMs are FP32 here): the STE's gradient
        for (int o = 0; o < 16; o++) {
            for (int c = 0; c < 16; c++) {
                assertTrue(Float.isFinite(g[o * in + c]), scheme.name() + ": gradient of weight [" + o + ", " + c + "] is " + g[o * in + c]);
            }
        }
        if (scheme.equals(Fp4Scheme.nvfp4_2d()) || scheme.equals(Fp4Scheme.nvfp4())) {
            for (int o = 0; o < 16; o++) {
                for (int c = 0; c < 16; c++) {
                    double ste = 0;
                    for (int k = 0; k < rows; k++) {
                        ste += (double) dy[k * out + o] * x[k * in + c];
                    }
                    assertEquals(ste, g[o * in + c], 1e-4 * (1 + Math.abs(ste)), scheme.name() + " [" + o + ", " + c + "]");
                }
            }
        }
    }

    @Test
    void resumeRefusesAnotherRunNamingTheFieldAndForceResumeAcceptsIt() throws IOException {
        TrainingConfig cfg = TrainingConfig.defaults().withSteps(4).withBatch(2, 32).withIntervals(2, 1, 2);
        CheckpointDirectory ck = new CheckpointDirectory(dir, 2);
        new Trainer(LlamaTrainable.create("tiny", "fp32", 1), DATA, cfg, ck).run();
        Checkpoint c = ck.latestValid().orElseThrow().checkpoint();
        record Case(String field, Trainer trainer) {
        }
        TextDataset other = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).dataset(60_001, 5);
        TextDataset renamed = TextDataset.fromBytes("other.txt", MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).sample(60_000, 5));
        List<Case> cases = List.of(
                new Case("data = ", new Trainer(LlamaTrainable.create("tiny", "fp32", 1), renamed, cfg, null)),
                new Case("data = ", new Trainer(LlamaTrainable.create("tiny", "fp32", 1), other, cfg, null)),
                new Case("train.steps = 4, this run has 8", new Trainer(LlamaTrainable.create("tiny", "fp32", 1), DATA, cfg.withSteps(8), null)),
                new Case("train.peak_lr = 0.003, this run has 0.001", new Trainer(LlamaTrainable.create("tiny", "fp32", 1), DATA,
                        cfg.withLr(1e-3, 1), null)),
                new Case("recipe = fp32, this run uses bf16", new Trainer(LlamaTrainable.create("tiny", "bf16", 1), DATA, cfg, null)));
        for (Case k : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> k.trainer().resume(c));
            assertTrue(e.getMessage().startsWith("checkpoint " + k.field()) && e.getMessage().endsWith("(pass --force-resume to continue it anyway)"),
                    e.getMessage());
            k.trainer().resume(c, true);                                   // the deliberate case
            assertEquals(4, k.trainer().step());
        }
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                () -> new Trainer(new LlamaTrainable(new LlamaModel(new LlamaConfig(256, 32, 2, 4, 4, 192, 64), PrecisionRecipe.FP32, 1)), DATA,
                        cfg, null).resume(c, true));
        assertEquals("checkpoint model.dim = 64, this run has 32", shape.getMessage(), "a model that cannot load it is refused even forced");
    }

    @Test
    void theRoundingSeedComesFromTheTrainingSeed() {
        TrainingConfig cfg = TrainingConfig.defaults().withSteps(2).withBatch(2, 32);
        LlamaTrainable a = LlamaTrainable.create("tiny", "nvfp4", 1);
        LlamaTrainable b = LlamaTrainable.create("tiny", "nvfp4", 1);
        new Trainer(a, DATA, cfg.withSeed(10), null);
        new Trainer(b, DATA, cfg.withSeed(11), null);
        assertEquals(Trainer.roundingSeed(10), a.model().roundingSeed());
        assertNotEquals(a.model().roundingSeed(), b.model().roundingSeed());
        TrainingResult ra = new Trainer(LlamaTrainable.create("tiny", "nvfp4", 1), DATA, cfg.withSeed(10), null).run();
        TrainingResult rb = new Trainer(LlamaTrainable.create("tiny", "nvfp4", 1), DATA, cfg.withSeed(10), null).run();
        assertEquals(ra.records(), rb.records().stream().map(s -> new dev.fp4.nn.train.StepRecord(s.step(), s.trainLoss(), s.valLoss(),
                s.lr(), s.gradNorm(), ra.records().get((int) s.step() - 1).tokensPerSec())).toList(), "the same seed, the same run");
    }
}
