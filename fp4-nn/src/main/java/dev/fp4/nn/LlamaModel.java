package dev.fp4.nn;

import dev.fp4.nn.StepProfile.Phase;
import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * A LLaMA-style decoder: token embedding, {@code layers} pre-norm blocks (RMSNorm, causal
 * attention with RoPE and optional grouped-query heads, SwiGLU feed-forward), a final RMSNorm and
 * an LM head (tied to the embedding or not), trained with mean cross-entropy.
 *
 * <p>Activations for backward live in buffers sized by (batch, seq) that are reused: after the
 * first step of a shape, {@link #forward} and {@link #backward} allocate nothing of their own.
 * Initialisation: every matrix ~ N(0, 0.02²) from a {@link SplittableRandom} seeded by the
 * constructor's seed, the output projections (wo, w2) scaled by 1/sqrt(2·layers); norms start at 1.
 *
 * <p>Not thread-safe: one step at a time per model.
 */
public final class LlamaModel {
    /** Standard deviation of the initial weights. */
    public static final double INIT_STD = 0.02;

    private final LlamaConfig config;
    private final Embedding embedding;
    private final List<TransformerBlock> blocks;
    private final RMSNorm finalNorm;
    private final Linear lmHead;
    private final List<Parameter> parameters;
    private final List<Linear> linears;
    private final Workspace ws = new Workspace();
    private final Rope rope;

    private PrecisionRecipe recipe;
    private PrecisionRecipe applied;
    private long roundingSeed;
    private long step;
    private long totalSteps;
    private long microStep = -1;
    private long micro;
    private int nextMicro = -1;                   // set by setMicroBatch for the next training forward
    private final List<List<Parameter>> blockParameters;

    // Residual stream: xs[l] is the input of block l, xs[layers] the last block's output.
    private final float[][] xs;
    private float[] xnF = new float[0];
    private float[] invF = new float[0];
    private float[] logits = new float[0];
    private float[] grad = new float[0];
    private double[] rowLoss = new double[0];
    private int[] tokens = new int[0];
    private final CrossEntropy crossEntropy = new CrossEntropy();
    private int batch;
    private int seq;
    private boolean backwardReady;

    /** A model with weights drawn from {@code seed}. */
    public LlamaModel(LlamaConfig config, PrecisionRecipe recipe, long seed) {
        this.config = Objects.requireNonNull(config, "config");
        this.recipe = Objects.requireNonNull(recipe, "recipe");
        this.rope = new Rope(config.headDim(), config.maxSeq(), config.ropeTheta());
        this.embedding = new Embedding("tok_embeddings", config.vocab(), config.dim());
        List<TransformerBlock> bs = new ArrayList<>();
        for (int l = 0; l < config.layers(); l++) {
            bs.add(new TransformerBlock(l, config, rope));
        }
        this.blocks = Collections.unmodifiableList(bs);
        this.finalNorm = new RMSNorm("norm", config.dim(), config.normEps());
        this.lmHead = config.tiedEmbeddings()
                ? new Linear(embedding.table(), LinearRole.LM_HEAD, -1)
                : new Linear("output", LinearRole.LM_HEAD, -1, config.dim(), config.vocab());
        List<Parameter> ps = new ArrayList<>();
        ps.add(embedding.table());
        List<Linear> ls = new ArrayList<>();
        for (TransformerBlock b : blocks) {
            ps.addAll(b.parameters());
            ls.addAll(b.linears());
        }
        ps.add(finalNorm.weight());
        if (!config.tiedEmbeddings()) {
            ps.add(lmHead.weight());
        }
        ls.add(lmHead);
        this.parameters = Collections.unmodifiableList(ps);
        this.blockParameters = blocks.stream().map(b -> List.copyOf(b.parameters())).toList();
        this.linears = Collections.unmodifiableList(ls);
        LinearScratch shared = new LinearScratch();
        for (Linear l : linears) {
            l.shareScratch(shared);
        }
        this.xs = new float[config.layers() + 1][0];
        initialise(seed);
    }

    private void initialise(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double outStd = INIT_STD / Math.sqrt(2.0 * config.layers());
        for (Parameter p : parameters) {
            if (p.shape().length < 2) {
                continue; // norms keep their ones
            }
            boolean output = p.name().endsWith(".wo") || p.name().endsWith(".w2");
            double std = output ? outStd : INIT_STD;
            float[] d = p.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (random.nextGaussian() * std);
            }
        }
    }

    /** The configuration. */
    public LlamaConfig config() {
        return config;
    }

    /** All trainable parameters in a fixed order (embedding, blocks, final norm, output head). */
    public List<Parameter> parameters() {
        return parameters;
    }

    /** All linear layers in a fixed order (per block wq, wk, wv, wo, w1, w2, w3; then the LM head). */
    public List<Linear> linears() {
        return linears;
    }

    /** The blocks. */
    public List<TransformerBlock> blocks() {
        return blocks;
    }

    /** The current recipe. */
    public PrecisionRecipe recipe() {
        return recipe;
    }

    /** The recipe in force at the current step (the schedule's target once it has switched). */
    public PrecisionRecipe effectiveRecipe() {
        return totalSteps > 0 ? recipe.at(step, totalSteps) : recipe;
    }

    /**
     * Sets the seed of stochastic rounding (default 0). Rounding draws from (this seed, the step of
     * {@link #setStep}, the index of the forward within the step, the layer, the operand) and not
     * from the initialisation seed, so a model rebuilt with any seed and given a checkpoint's
     * parameters and step rounds exactly as the uninterrupted run did; a caller that wants
     * independent rounding noise per run sets the run's seed here (and again on resume).
     */
    public void setRoundingSeed(long seed) {
        this.roundingSeed = seed;
    }

    /** The seed of stochastic rounding. */
    public long roundingSeed() {
        return roundingSeed;
    }

    /**
     * Sets the index of the next training {@link #forward} within the current step (0-based),
     * which selects its stochastic-rounding variates. Without it, the forwards of a step count
     * 0, 1, 2, … by themselves; a data-parallel replica that runs micro-batch k of a step sets k
     * here, so that it rounds exactly as a single process that runs micro-batches 0 … k in turn.
     *
     * @throws IllegalArgumentException if {@code index < 0}
     */
    public void setMicroBatch(int index) {
        if (index < 0) {
            throw new IllegalArgumentException("micro-batch index must be >= 0, got " + index);
        }
        nextMicro = index;
    }

    /** Replaces the recipe (takes effect at the next forward). */
    public void setRecipe(PrecisionRecipe recipe) {
        this.recipe = Objects.requireNonNull(recipe, "recipe");
    }

    /**
     * Tells the model where training stands, for target-precision schedules: from the next
     * forward on, the linear layers follow {@code recipe().at(step, totalSteps)}. The step also
     * selects the stochastic-rounding variates (with {@link #roundingSeed()} and the index of the
     * forward within the step), so a run resumed at a step rounds as the uninterrupted run did.
     */
    public void setStep(long step, long totalSteps) {
        if (step < 0 || totalSteps <= 0 || step > totalSteps) {
            throw new IllegalArgumentException("need 0 <= step <= totalSteps and totalSteps > 0, got step "
                    + step + " of " + totalSteps);
        }
        this.step = step;
        this.totalSteps = totalSteps;
    }

    /**
     * Mean cross-entropy of predicting {@code targets} from {@code tokens}, both [batch, seq]
     * row-major; keeps the activations for {@link #backward()}.
     *
     * @throws IllegalArgumentException for bad ids or shapes (checked before anything runs)
     * @throws CapacityException        when a buffer for this batch shape would exceed one Java
     *                                  array (naming the size); nothing has been computed
     * @throws ArithmeticException      when the loss is not finite, or a quantizer or the outlier
     *                                  clamp met a NaN/Inf activation or weight (the message names the
     *                                  layer, operand and element); backward() is then not possible
     */
    public float forward(int[] tokens, int[] targets, int batch, int seq) {
        backwardReady = false;                               // a failed forward leaves nothing to run backward on
        float loss = run(tokens, targets, batch, seq, true);
        backwardReady = true;
        return loss;
    }

    /**
     * The same loss as {@link #forward} without preparing a backward pass (it reuses the forward
     * buffers, so a pending {@link #backward()} is no longer possible after it).
     */
    public float evaluate(int[] tokens, int[] targets, int batch, int seq) {
        backwardReady = false;
        return run(tokens, targets, batch, seq, false);
    }

    /**
     * As {@link #evaluate(int[], int[], int, int)}, also writing the loss of every position,
     * {@code positionLoss[b·seq + i]} = −ln p(targets[b·seq + i]) in nats (the returned mean is
     * their mean rounded to float).
     *
     * @throws IllegalArgumentException when positionLoss holds fewer than batch·seq elements
     */
    public float evaluate(int[] tokens, int[] targets, int batch, int seq, double[] positionLoss) {
        if (positionLoss == null || positionLoss.length < (long) batch * seq) {
            throw new IllegalArgumentException("positionLoss needs batch*seq = " + (long) batch * seq + " elements, got "
                    + (positionLoss == null ? "null" : positionLoss.length));
        }
        float loss = evaluate(tokens, targets, batch, seq);
        System.arraycopy(rowLoss, 0, positionLoss, 0, batch * seq);
        return loss;
    }

    private float run(int[] tokens, int[] targets, int batch, int seq, boolean training) {
        check(tokens, "tokens", batch, seq);
        if (targets != null) {
            check(targets, "targets", batch, seq);
        }
        try {
            return compute(tokens, targets, batch, seq, training);
        } catch (dev.fp4.core.quant.NonFiniteValueException e) {
            // A quantizer, estimator or the outlier clamp refused a NaN/Inf activation or weight
            // (message: layer, operand and element): reported like a non-finite loss. Any other
            // exception (a CapacityException naming a size, a bug) propagates as itself.
            ArithmeticException a = new ArithmeticException("non-finite value in the forward pass (recipe " + recipe.name() + "): "
                    + e.getMessage());
            a.initCause(e);
            throw a;
        }
    }

    private float compute(int[] tokens, int[] targets, int batch, int seq, boolean training) {
        PrecisionRecipe effective = effectiveRecipe();
        if (effective != applied) {
            for (Linear l : linears) {
                l.setPrecision(effective.precision(l.role(), l.layer(), config.layers()));
            }
            applied = effective;
        }
        if (training) {
            // Stochastic rounding draws from (seed, step, index of this forward within the step).
            micro = nextMicro >= 0 ? nextMicro : step == microStep ? micro + 1 : 0;
            microStep = step;
            nextMicro = -1;
        }
        for (int i = 0; i < linears.size(); i++) {
            linears.get(i).setRandomState(roundingSeed, step, micro);
        }
        int n = batch * seq;                                 // check() bounded it by the ids' array length
        this.batch = batch;
        this.seq = seq;
        long size = (long) n * config.dim();
        for (int l = 0; l < xs.length; l++) {
            xs[l] = Workspace.grow(xs[l], size);
        }
        xnF = Workspace.grow(xnF, size);
        invF = Workspace.grow(invF, n);
        logits = Workspace.grow(logits, (long) n * config.vocab());
        grad = Workspace.grow(grad, size);
        if (this.tokens.length < n) {
            this.tokens = new int[n];
        }
        System.arraycopy(tokens, 0, this.tokens, 0, n);
        if (rowLoss.length < n) {
            rowLoss = new double[n];
        }
        ws.ensure(config, batch, seq);
        long t = StepProfile.start();
        embedding.forward(tokens, n, xs[0]);
        StepProfile.lap(Phase.ELEMENTWISE, t);
        for (int l = 0; l < blocks.size(); l++) {
            blocks.get(l).forward(xs[l], xs[l + 1], batch, seq, ws);
        }
        t = StepProfile.start();
        finalNorm.forward(xs[blocks.size()], xnF, invF, 0, n);
        t = StepProfile.lap(Phase.ELEMENTWISE, t);
        lmHead.forward(xnF, logits, n);
        t = StepProfile.lap(Phase.LINEAR, t);
        if (targets == null) {
            return Float.NaN;                                   // logits() wants the logits only
        }
        float loss = crossEntropy.evaluate(logits, targets, n, config.vocab(), logits, training, rowLoss);
        StepProfile.lap(Phase.ELEMENTWISE, t);
        if (!Float.isFinite(loss)) {
            throw new ArithmeticException("loss is " + loss + " (recipe " + recipe.name() + ")");
        }
        return loss;
    }

    /** Adds the gradient of the last {@link #forward}'s loss into every {@link Parameter#grad()}. */
    public void backward() {
        backward(null);
    }

    /**
     * As {@link #backward()}, calling {@code ready} (when not null) with each parameter as soon as
     * its gradient is complete: the LM head's weight (when not tied), the final norm, the
     * parameters of each block from the last to the first, and the embedding table last (it also
     * receives the tied head's gradient). Every parameter is reported exactly once.
     */
    public void backward(Consumer<Parameter> ready) {
        if (!backwardReady) {
            throw new IllegalStateException("backward() needs a forward() first (evaluate() does not keep state)");
        }
        backwardReady = false;
        int n = batch * seq;
        long t = StepProfile.start();
        lmHead.backward(logits, ws.dxn, false);
        t = StepProfile.lap(Phase.LINEAR, t);
        if (ready != null && !config.tiedEmbeddings()) {
            ready.accept(lmHead.weight());
        }
        java.util.Arrays.fill(grad, 0, n * config.dim(), 0f);
        finalNorm.backward(xs[blocks.size()], invF, 0, ws.dxn, grad, n);
        StepProfile.lap(Phase.ELEMENTWISE, t);
        if (ready != null) {
            ready.accept(finalNorm.weight());
        }
        for (int l = blocks.size() - 1; l >= 0; l--) {
            blocks.get(l).backward(grad, ws);
            if (ready != null) {
                blockParameters.get(l).forEach(ready);
            }
        }
        t = StepProfile.start();
        embedding.backward(tokens, n, grad);
        StepProfile.lap(Phase.ELEMENTWISE, t);
        if (ready != null) {
            ready.accept(embedding.table());
        }
    }

    private void check(int[] ids, String what, int batch, int seq) {
        Objects.requireNonNull(ids, what);
        if (batch <= 0 || seq <= 0) {
            throw new IllegalArgumentException("batch and seq must be positive, got batch " + batch + ", seq " + seq);
        }
        if (seq > config.maxSeq()) {
            throw new IllegalArgumentException("seq " + seq + " exceeds the model's maxSeq " + config.maxSeq());
        }
        long n = (long) batch * seq;
        if (ids.length < n) {
            throw new IllegalArgumentException(what + " has " + ids.length + " ids, need batch*seq = " + n);
        }
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= config.vocab()) {
                throw new IllegalArgumentException(what + "[" + i + "] = " + ids[i] + " is outside [0, "
                        + config.vocab() + ")");
            }
        }
    }
}
