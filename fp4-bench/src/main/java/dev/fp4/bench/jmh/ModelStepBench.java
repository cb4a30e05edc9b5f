package dev.fp4.bench.jmh;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.nn.Linear;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.recipe.GemmPrecision;
import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.recipe.Quantizer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One training step of a model preset (default {@code small}: forward and backward, no optimizer)
 * per precision recipe, and the two parts that the recipe changes, measured apart at the same
 * shapes:
 * <ul>
 *   <li>{@code step}: {@link LlamaModel#forward} + {@link LlamaModel#backward};
 *   <li>{@code linearGemms}: the FP32 GeMMs of every linear layer (forward NT, data-gradient NN,
 *       weight-gradient TN) at the step's shapes — the GeMM share of a step;
 *   <li>{@code quantization}: every fake quantization the recipe asks for in one step (each
 *       non-FP32 operand of each linear layer's three GeMMs, in its GeMM layout) — the quantization
 *       share (0 for {@code fp32}).
 * </ul>
 * Run e.g. {@code ... org.openjdk.jmh.Main ModelStepBench -p recipe=fp32,bf16 -p batch=16}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx8g"})
public class ModelStepBench {

    /** A name of {@link PrecisionRecipe#names()}. */
    @Param({"fp32"})
    public String recipe;

    /** Sequences per step. */
    @Param({"16"})
    public int batch;

    /** Tokens per sequence (at most the preset's maxSeq). */
    @Param({"256"})
    public int seq;

    /** Model preset. */
    @Param({"small"})
    public String preset;

    private LlamaModel model;
    private int[] tokens;
    private int[] targets;
    private final List<Runnable> quantizations = new ArrayList<>();
    private final List<int[]> gemmShapes = new ArrayList<>();
    private float[] ga;
    private float[] gb;
    private float[] gc;

    /** Builds the model, a random batch and the per-layer quantization and GeMM work lists. */
    @Setup(Level.Trial)
    public void setUp() {
        LlamaConfig config = LlamaConfig.preset(preset);
        model = new LlamaModel(config, PrecisionRecipe.byName(recipe), 1);
        SplittableRandom r = new SplittableRandom(2);
        int n = batch * seq;
        tokens = new int[n];
        targets = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = r.nextInt(config.vocab());
            targets[i] = r.nextInt(config.vocab());
        }
        // One step so every buffer exists and the linear layers hold the recipe's precisions.
        model.forward(tokens, targets, batch, seq);
        model.backward();
        long maxSize = 0;
        for (Linear l : model.linears()) {
            int in = l.in();
            int out = l.out();
            gemmShapes.add(new int[] {n, in, out});
            maxSize = Math.max(maxSize, (long) n * Math.max(in, out));
            maxSize = Math.max(maxSize, (long) in * out);
            LinearPrecision p = l.precision();
            addQuantization(p.forward(), n, in, out, in);
            addQuantization(p.dataGrad(), n, out, in, out);
            addQuantization(p.weightGrad(), out, n, in, n);
        }
        ga = random(r, maxSize);
        gb = random(r, maxSize);
        gc = new float[(int) maxSize];
    }

    /** Adds the quantization of A [aRows, aCols] and B [bRows, bCols] when they are not FP32. */
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
        float[] x = new float[(int) n];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /** Forward and backward of one step; returns the loss. */
    @Benchmark
    public float step() {
        for (Parameter p : model.parameters()) {
            p.zeroGrad();
        }
        float loss = model.forward(tokens, targets, batch, seq);
        model.backward();
        return loss;
    }

    /** The three FP32 GeMMs of every linear layer at the step's shapes. */
    @Benchmark
    public float linearGemms() {
        for (int[] s : gemmShapes) {
            int n = s[0], in = s[1], out = s[2];
            FloatGemm.matmulNT(ga, 0, gb, 0, gc, 0, n, out, in, false);   // Y = X·Wᵀ
            FloatGemm.matmulNN(ga, 0, gb, 0, gc, 0, n, in, out, false);   // dX = dY·W
            FloatGemm.matmulTN(ga, 0, gb, 0, gc, 0, out, in, n, false);   // dW = dYᵀ·X
        }
        return gc[0];
    }

    /** Every fake quantization of one step under the recipe. */
    @Benchmark
    public int quantization() {
        for (Runnable q : quantizations) {
            q.run();
        }
        return quantizations.size();
    }
}
