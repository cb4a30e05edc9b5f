package dev.fp4.bench;

import dev.fp4.nn.Linear;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.StepProfile;
import dev.fp4.nn.optim.AdamW;
import dev.fp4.nn.optim.MomentPrecision;
import dev.fp4.nn.recipe.GemmPrecision;
import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.recipe.Quantizer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One full training step of a model preset, as {@code TrainStepBench} and {@code fp4 bench-step}
 * measure it: zero the gradients, forward (mean cross-entropy), backward, one AdamW step (the
 * paper's hyper-parameters, FP32 moments, learning rate 1e-4, no clipping) on a fixed random
 * batch. Also builds the quantization work of one step (every non-FP32 GeMM operand of every
 * linear layer, in its GeMM layout, at the step's shapes) so that it can be timed apart from the
 * GeMMs.
 */
public final class TrainStep {
    /** Learning rate of the benchmark steps (small, so that long runs stay finite). */
    public static final double LR = 1e-4;

    private final LlamaModel model;
    private final AdamW optimizer;
    private final int[] tokens;
    private final int[] targets;
    private final int batch;
    private final int seq;
    private final List<Runnable> quantizations = new ArrayList<>();

    /** A seeded model of {@code preset} under {@code recipe} with a random batch of [batch, seq] tokens. */
    public TrainStep(String preset, String recipe, int batch, int seq, long seed) {
        LlamaConfig config = LlamaConfig.preset(preset);
        if (batch <= 0 || seq <= 0 || seq > config.maxSeq()) {
            throw new IllegalArgumentException("need batch > 0 and 0 < seq <= " + config.maxSeq() + " for preset "
                    + preset + ", got batch " + batch + ", seq " + seq);
        }
        this.model = new LlamaModel(config, PrecisionRecipe.byName(recipe), seed);
        this.optimizer = new AdamW(model.parameters(), AdamW.Settings.paper(MomentPrecision.FP32));
        this.batch = batch;
        this.seq = seq;
        SplittableRandom r = new SplittableRandom(seed + 1);
        int n = batch * seq;
        tokens = new int[n];
        targets = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = r.nextInt(config.vocab());
            targets[i] = r.nextInt(config.vocab());
        }
        // One forward so that the linear layers hold the recipe's precisions.
        model.forward(tokens, targets, batch, seq);
        for (Linear l : model.linears()) {
            int in = l.in();
            int out = l.out();
            LinearPrecision p = l.precision();
            addQuantization(p.forward(), n, in, out, in);
            addQuantization(p.dataGrad(), n, out, in, out);
            addQuantization(p.weightGrad(), out, n, in, n);
        }
    }

    private void addQuantization(GemmPrecision g, int aRows, int aCols, int bRows, int bCols) {
        SplittableRandom r = new SplittableRandom(quantizations.size());
        if (!g.a().isIdentity()) {
            Quantizer q = g.a().newQuantizer();
            float[] src = random(r, (long) aRows * aCols);
            float[] dst = new float[src.length];
            quantizations.add(() -> q.quantize(src, 0, aRows, aCols, dst, 0, 1));
        }
        if (!g.b().isIdentity()) {
            Quantizer q = g.b().newQuantizer();
            float[] src = random(r, (long) bRows * bCols);
            float[] dst = new float[src.length];
            quantizations.add(() -> q.quantize(src, 0, bRows, bCols, dst, 0, 2));
        }
    }

    private static float[] random(SplittableRandom r, long n) {
        float[] x = new float[Math.toIntExact(n)];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /**
     * Drops the operands of the stand-alone quantization timing ({@link #quantizeOnce}): they are
     * the benchmark's, not the training step's, and would count in a measure of the step's memory.
     */
    public void dropQuantizationOperands() {
        quantizations.clear();
    }

    /** The model. */
    public LlamaModel model() {
        return model;
    }

    /** Tokens per step (batch · seq). */
    public int tokensPerStep() {
        return batch * seq;
    }

    /** One training step; returns the loss of its forward. */
    public float step() {
        for (Parameter p : model.parameters()) {
            p.zeroGrad();
        }
        float loss = model.forward(tokens, targets, batch, seq);
        model.backward();
        long t0 = StepProfile.enabled() ? System.nanoTime() : 0L;
        optimizer.step(LR);
        if (StepProfile.enabled()) {
            StepProfile.add(StepProfile.Phase.OPTIMIZER, System.nanoTime() - t0);
        }
        return loss;
    }

    /** Number of quantization calls one step makes (0 under fp32). */
    public int quantizationCount() {
        return quantizations.size();
    }

    /** Runs every quantization of one step on stand-in data of the same shapes. */
    public void quantizeOnce() {
        for (Runnable q : quantizations) {
            q.run();
        }
    }
}
