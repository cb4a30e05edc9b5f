package dev.fp4.nn.train;

import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.data.Batch;
import dev.fp4.nn.data.BatchSampler;
import dev.fp4.nn.data.Split;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.optim.AdamW;
import dev.fp4.nn.optim.GradientClipping;
import dev.fp4.nn.optim.LearningRateSchedule;
import dev.fp4.nn.optim.Optimizer;
import dev.fp4.nn.optim.WeightDecayRule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training loop. Each optimizer step s (0-based):
 * <ol>
 * <li>{@code model.setStep(s, steps)} (the recipe's target-precision schedule);</li>
 * <li>for each of {@code accumulation} micro-batches k = 0, 1, … (window set base + k of the
 * training sampler, base = s · accumulation): zero the gradients, forward, backward; the step's
 * gradient is g₀ + g₁ + … added in FP32 left to right, times 1/accumulation, and its loss the
 * mean of the micro-batch losses. A data-parallel replica ({@link ReplicaGroup}) runs its share
 * of the micro-batches and the group adds the replicas' sums in rank order, which is the same
 * left-to-right sum when each replica runs one micro-batch;</li>
 * <li>guard: a non-finite loss or gradient norm stops the run before the update
 * ({@link TrainingResult.Status#NON_FINITE}); a model may also report a non-finite loss by
 * throwing {@link ArithmeticException} from forward (as {@code LlamaModel} does); a loss above divergenceFactor × the lowest
 * exponential moving average (α = 0.1) seen, after {@link TrainingConfig#GUARD_WARMUP_STEPS},
 * stops it as {@link TrainingResult.Status#DIVERGED}; a non-finite validation loss after an
 * update also stops it as NON_FINITE, before that state is checkpointed. Stopping never writes a checkpoint, so the
 * last one written is the last good state;</li>
 * <li>clip the global gradient norm, AdamW step with the warm-up + cosine learning rate;</li>
 * <li>every evalInterval steps and after the last: the mean validation loss over evalBatches
 * fixed batches (the same windows every time); once all steps are done, the loss over every
 * window of the validation split ({@link #finalValidation()}); every checkpointInterval steps and at the end: a
 * checkpoint.</li>
 * </ol>
 *
 * <p><b>Determinism.</b> Data order is a function of the seed and the batch index (a counter-based
 * sampler), the optimizer and the model are deterministic, and a checkpoint stores parameters,
 * optimizer state, step and sampler position: the same seed, data and recipe give the same
 * losses bit for bit, and {@link #resume} continues exactly as if the run had not stopped
 * (provided the model itself is deterministic given its parameters and the step).
 *
 * <p>{@link #requestStop()} (e.g. from a shutdown hook) makes {@link #run()} finish the current
 * step, write a checkpoint and return {@link TrainingResult.Status#INTERRUPTED}.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    private static final long EVAL_SEED_SALT = 0x5eed_0f_e7a1L;

    private final TrainableModel model;
    private final TextDataset data;
    private final TrainingConfig config;
    private final CheckpointDirectory checkpoints;
    private final List<Parameter> params;
    private final Optimizer optimizer;
    private final LearningRateSchedule schedule;
    private final BatchSampler trainSampler;
    private final BatchSampler evalSampler;
    private final ReplicaGroup group;
    private final int perReplica;
    private float[][] accumulated = new float[0][];
    private volatile boolean stopRequested;
    private long step;
    private Path lastCheckpoint;
    private String runId;
    private boolean staleRemoved;
    private WindowLosses finalValidation;

    /**
     * @param checkpoints where to write checkpoints, or null for none
     * @throws IllegalArgumentException when the dataset is too small for the sequence length
     */
    public Trainer(TrainableModel model, TextDataset data, TrainingConfig config, CheckpointDirectory checkpoints) {
        this(model, data, config, checkpoints, ReplicaGroup.single());
    }

    /**
     * A trainer for one replica of a data-parallel run. Replica {@code group.rank()} runs the
     * global micro-batches rank·A … rank·A + A − 1 of every step (A = accumulation / group size),
     * draws them from {@code data} at the same stream positions a single process would, and
     * evaluates every size-th validation batch; the group sums the gradients (see
     * {@link ReplicaGroup}) and gathers the losses, so every replica takes the same step. Give
     * {@code checkpoints} to one replica only.
     *
     * @param checkpoints where to write checkpoints, or null for none
     * @throws IllegalArgumentException when the dataset is too small for the sequence length, or
     *                                  the accumulation is not a multiple of the group size
     */
    public Trainer(TrainableModel model, TextDataset data, TrainingConfig config, CheckpointDirectory checkpoints, ReplicaGroup group) {
        this(model, data, config, checkpoints, group, Setup.defaults(config));
    }

    /**
     * The parts of a trainer a caller may replace: the optimizer (made from the model's
     * parameters) and the learning-rate schedule. {@link #defaults} is what the library trains
     * with; data come as a {@link TextDataset} of any tokens ({@link TextDataset#fromTokens}).
     *
     * @param optimizer makes the optimizer of the model's parameters
     * @param schedule  the learning rate of each step (0-based)
     */
    public record Setup(java.util.function.Function<List<Parameter>, Optimizer> optimizer, LearningRateSchedule schedule) {
        /** Checks that both are given. */
        public Setup {
            Objects.requireNonNull(optimizer, "optimizer");
            Objects.requireNonNull(schedule, "schedule");
        }

        /**
         * AdamW (β = 0.9, 0.95, ε = 1e-8, the config's weight decay on the matrices but the
         * embeddings, its moment precision) and warm-up plus cosine decay to the config's floor.
         */
        public static Setup defaults(TrainingConfig config) {
            return new Setup(params -> new AdamW(params, new AdamW.Settings(0.9, 0.95, 1e-8, config.weightDecay(), config.moments(),
                    WeightDecayRule.MATRICES_EXCEPT_EMBEDDINGS)),
                    LearningRateSchedule.warmupCosine(config.peakLr(), config.warmupSteps(), config.steps(), config.floorFraction()));
        }

        /** This setup with another schedule. */
        public Setup withSchedule(LearningRateSchedule s) {
            return new Setup(optimizer, s);
        }

        /** This setup with another optimizer. */
        public Setup withOptimizer(java.util.function.Function<List<Parameter>, Optimizer> o) {
            return new Setup(o, schedule);
        }
    }

    /**
     * As {@link #Trainer(TrainableModel, TextDataset, TrainingConfig, CheckpointDirectory, ReplicaGroup)}
     * with the optimizer and schedule of {@code setup}. Checkpoints store the optimizer's
     * {@link Optimizer#stateView()}; the run id does not cover a caller's own optimizer or schedule.
     */
    public Trainer(TrainableModel model, TextDataset data, TrainingConfig config, CheckpointDirectory checkpoints, ReplicaGroup group,
                   Setup setup) {
        Objects.requireNonNull(setup, "setup");
        this.group = Objects.requireNonNull(group, "group");
        if (config.accumulation() % group.size() != 0) {
            throw new IllegalArgumentException("accumulation " + config.accumulation() + " is not a multiple of the "
                    + group.size() + " replicas");
        }
        this.perReplica = config.accumulation() / group.size();
        this.model = Objects.requireNonNull(model, "model");
        this.data = Objects.requireNonNull(data, "data");
        this.config = Objects.requireNonNull(config, "config");
        this.checkpoints = checkpoints;
        this.params = model.parameters();
        this.optimizer = Objects.requireNonNull(setup.optimizer().apply(params), "the setup's optimizer");
        this.schedule = setup.schedule();
        this.trainSampler = data.sampler(Split.TRAIN, config.batch(), config.seq(), config.seed());
        this.evalSampler = data.sampler(Split.VALIDATION, config.batch(), config.seq(), config.seed() ^ EVAL_SEED_SALT);
        model.setRoundingSeed(roundingSeed(config.seed()));
        this.runId = newRunId();
    }

    /** Steps completed so far. */
    public long step() {
        return step;
    }

    /** The optimizer (for inspection). */
    public Optimizer optimizer() {
        return optimizer;
    }

    /** Asks a running {@link #run()} to stop after the current step and write a checkpoint. Thread-safe. */
    public void requestStop() {
        stopRequested = true;
    }

    /** The checkpoint of the current state: views of the live parameters and optimizer state, to write before the next step. */
    public Checkpoint checkpoint() {
        Map<String, String> cfg = new LinkedHashMap<>(model.config());
        cfg.putAll(config.asMap());
        return Checkpoint.capture(step, config.seed(), Map.of("train", trainSampler.position()), model.recipeName(), cfg, params,
                optimizer.stateView(), Map.of("data", data.name(), "data_size", Integer.toString(data.size()), Checkpoint.RUN_ID, runId,
                "tokenizer", data.tokenizer().name()));
    }

    /**
     * Restores a checkpoint written by this same run: the same model configuration, recipe, data
     * (name and size), batch shape, accumulation, moment precision, seed, steps and learning-rate
     * schedule. This run then continues that run's id.
     *
     * @throws IllegalArgumentException naming the first field that differs (the checkpoint's value
     *                                  and this run's)
     */
    public void resume(Checkpoint c) {
        resume(c, false);
    }

    /**
     * As {@link #resume(Checkpoint)}; with {@code force}, a checkpoint of a different run is
     * accepted as long as it can be loaded at all (same model configuration and moment precision):
     * other differences (data, recipe, batch, steps, schedule, seed) are logged as warnings. For
     * the deliberate case: fine-tuning on other data, a changed schedule.
     */
    public void resume(Checkpoint c, boolean force) {
        List<String> differences = new ArrayList<>();
        if (!c.recipe().equals(model.recipeName())) {
            differences.add("recipe = " + c.recipe() + ", this run uses " + model.recipeName());
        }
        Map<String, String> strict = new LinkedHashMap<>(model.config());
        strict.put("train.moments", config.moments().name());
        Map<String, String> run = new LinkedHashMap<>(config.asMap());
        run.remove("train.moments");
        for (var e : strict.entrySet()) {
            String have = c.config().get(e.getKey());
            if (!e.getValue().equals(have)) {
                throw new IllegalArgumentException("checkpoint " + e.getKey() + " = " + have + ", this run has " + e.getValue());
            }
        }
        String tokenizer = c.extra().getOrDefault("tokenizer", "byte");
        if (!tokenizer.equals(data.tokenizer().name())) {
            // not forcible: another tokenizer's ids mean other symbols
            throw new IllegalArgumentException("checkpoint was trained with the " + tokenizer + " tokenizer, this run's data uses "
                    + data.tokenizer().name());
        }
        for (var e : run.entrySet()) {
            String have = c.config().get(e.getKey());
            if (have != null && !e.getValue().equals(have)) {
                differences.add(e.getKey() + " = " + have + ", this run has " + e.getValue());
            }
        }
        String dataName = c.extra().get("data");
        if (dataName != null && !dataName.equals(data.name())) {
            differences.add("data = " + dataName + ", this run trains on " + data.name());
        }
        String dataSize = c.extra().get("data_size");
        if (dataSize != null && !dataSize.equals(Integer.toString(data.size()))) {
            differences.add("data_size = " + dataSize + " bytes, this run's data has " + data.size());
        }
        if (!differences.isEmpty()) {
            if (!force) {
                throw new IllegalArgumentException("checkpoint " + differences.get(0) + " (pass --force-resume to continue it anyway)");
            }
            differences.forEach(d -> LOG.warn("resuming a different run (forced): checkpoint {}", d));
        }
        Long pos = c.rngPositions().get("train");
        if (pos == null) {
            throw new IllegalArgumentException("checkpoint has no training data position (rng stream \"train\")");
        }
        if (c.step() > config.steps()) {
            throw new IllegalArgumentException("checkpoint is at step " + c.step() + ", beyond this run's " + config.steps() + " steps");
        }
        c.restoreParameters(params);
        optimizer.loadState(c.optimizerState());
        trainSampler.seek(pos);
        step = c.step();
        if (c.runId() != null) {
            runId = c.runId();
        }
        LOG.info("resumed from step {} ({} recipe, run {})", step, c.recipe(), runId);
    }

    /** Resumes from the newest valid checkpoint of the directory; false when there is none. */
    public boolean resumeLatest() throws IOException {
        return resumeLatest(false);
    }

    /**
     * As {@link #resumeLatest()}, forcing as {@link #resume(Checkpoint, boolean)} does. Leftovers of
     * an interrupted write are removed first.
     */
    public boolean resumeLatest(boolean force) throws IOException {
        if (checkpoints == null) {
            return false;
        }
        checkpoints.removeStale();
        var latest = checkpoints.latestValid();
        if (latest.isEmpty()) {
            return false;
        }
        resume(latest.get().checkpoint(), force);
        lastCheckpoint = latest.get().path();
        return true;
    }

    /** The id of this run, written into its checkpoints (a resumed run continues the checkpoint's). */
    public String runId() {
        return runId;
    }

    /**
     * Mean validation loss over the fixed validation batches (batch i is window set i of the
     * validation sampler, the same every time); NaN (with a warning quoting the model's report)
     * when the model reports a non-finite loss by throwing ArithmeticException. {@link #run} stops
     * on a non-finite validation loss. In a group, every replica must call it: replica r
     * evaluates batches r, r + size, …, and the losses are summed in batch order, so the result
     * is the single process's to the bit.
     */
    public double evaluate() {
        int batches = config.evalBatches();
        int size = group.size();
        double[] mine = new double[(batches - group.rank() + size - 1) / size];
        for (int i = group.rank(), k = 0; i < batches; i += size, k++) {
            evalSampler.seek(i);
            Batch b = evalSampler.next();
            try {
                mine[k] = model.evaluate(b.tokens(), b.targets(), b.batch(), b.seq());
            } catch (ArithmeticException e) {
                LOG.warn("validation loss at step {} is not finite: {}", step, e.getMessage());
                mine[k] = Double.NaN;
            }
        }
        double[][] all = size == 1 ? new double[][] {mine} : group.allGather(mine);
        double sum = 0;
        for (int i = 0; i < batches; i++) {
            sum += all[i % size][i / size];
        }
        return sum / batches;
    }

    /**
     * The model's losses on every window of a split ({@link WindowEvaluator}: non-overlapping
     * windows of the run's sequence length, the last one partial), in batches of the run's batch size.
     * In a group the replicas share the batches (each must call it) and all return the same losses.
     *
     * @throws ArithmeticException when the model reports a non-finite loss
     */
    public WindowLosses evaluateSplit(Split split) {
        return WindowEvaluator.evaluate(model, data.tokens(split), config.seq(), config.batch(), group);
    }

    /**
     * The evaluation over the whole validation split made when {@link #run} completed, or null
     * (not completed, or the loss was not finite).
     */
    public WindowLosses finalValidation() {
        return finalValidation;
    }

    private Path saveCheckpoint(TrainingListener listener) {
        if (checkpoints == null) {
            return null;
        }
        try {
            if (!staleRemoved) {
                checkpoints.removeStale();
                staleRemoved = true;
            }
            Path p = checkpoints.save(checkpoint());
            lastCheckpoint = p;
            listener.onCheckpoint(step, p);
            LOG.info("checkpoint at step {}: {}", step, p);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the checkpoint of step " + step + " to " + checkpoints.directory(), e);
        }
    }

    /** Runs from the current step to the configured number of steps (or until stopped). */
    public TrainingResult run() {
        return run(TrainingListener.NONE);
    }

    /** As {@link #run()}, reporting progress to {@code listener}. */
    public TrainingResult run(TrainingListener listener) {
        Objects.requireNonNull(listener, "listener");
        TrainingResult result = steps(listener);
        listener.onStop(result);
        return result;
    }

    private TrainingResult steps(TrainingListener listener) {
        List<StepRecord> records = new ArrayList<>();
        long t0 = System.nanoTime();
        long tokens = 0;
        double bestEma = Double.POSITIVE_INFINITY;
        double ema = Double.NaN;
        int accum = config.accumulation();
        float inv = 1f / accum;
        double[] local = new double[perReplica];
        while (step < config.steps()) {
            long ts = System.nanoTime();
            model.setStep(step, config.steps());
            long base = trainSampler.position();
            String modelReport;
            try {
                modelReport = localGradients(base, local);
            } catch (RuntimeException e) {
                return failed(listener, records, e, t0, tokens);
            }
            long tc = System.nanoTime();
            group.awaitReductions(params);
            long tw = System.nanoTime();
            trainSampler.seek(base + accum);
            double lossSum = 0;
            if (group.size() == 1) {
                for (double l : local) {
                    lossSum += l;
                }
                listener.onReplicaTimes(step + 1, new double[] {(tc - ts) / 1e9}, new double[] {(tw - tc) / 1e9});
            } else {
                // each replica's losses in micro-batch order, then its compute and all-reduce wait times
                double[] mine = java.util.Arrays.copyOf(local, perReplica + 2);
                mine[perReplica] = (tc - ts) / 1e9;
                mine[perReplica + 1] = (tw - tc) / 1e9;
                double[][] all = group.allGather(mine);
                double[] compute = new double[all.length];
                double[] wait = new double[all.length];
                for (int r = 0; r < all.length; r++) {
                    for (int a = 0; a < perReplica; a++) {
                        lossSum += all[r][a];
                    }
                    compute[r] = all[r][perReplica];
                    wait[r] = all[r][perReplica + 1];
                }
                listener.onReplicaTimes(step + 1, compute, wait);
            }
            double loss = lossSum / accum;
            if (accum > 1) {
                for (Parameter p : params) {
                    float[] g = p.grad();
                    for (int i = 0; i < g.length; i++) {
                        g[i] *= inv;
                    }
                }
            }
            double norm = config.clipNorm() > 0 ? GradientClipping.clipGlobalNorm(params, config.clipNorm()) : GradientClipping.globalNorm(params);
            if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
                String why = modelReport != null
                        ? String.format(java.util.Locale.ROOT, "stopped at step %d: the forward pass is not finite (%s recipe): %s", step + 1,
                                model.recipeName(), modelReport)
                        : String.format(java.util.Locale.ROOT, "stopped at step %d: %s is %s (%s recipe)", step + 1,
                                Double.isFinite(loss) ? "the gradient norm" : "the training loss", Double.isFinite(loss) ? norm : loss,
                                model.recipeName());
                return stop(records, TrainingResult.Status.NON_FINITE, why, t0, tokens);
            }
            ema = Double.isNaN(ema) ? loss : 0.9 * ema + 0.1 * loss;
            if (step >= TrainingConfig.GUARD_WARMUP_STEPS) {
                if (loss > config.divergenceFactor() * bestEma) {
                    return stop(records, TrainingResult.Status.DIVERGED, String.format(java.util.Locale.ROOT,
                            "stopped at step %d: training loss %.4f exceeds %.1f × the best smoothed loss %.4f (diverged, %s recipe)",
                            step + 1, loss, config.divergenceFactor(), bestEma, model.recipeName()), t0, tokens);
                }
            }
            bestEma = Math.min(bestEma, ema);
            double lr = schedule.at(step);
            optimizer.step(lr);
            step++;
            tokens += config.tokensPerStep();
            double val = Double.NaN;
            if (step % config.evalInterval() == 0 || step == config.steps()) {
                try {
                    val = evaluate();
                } catch (RuntimeException e) {
                    return failed(listener, records, e, t0, tokens);
                }
                if (!Double.isFinite(val)) {
                    // the state after this update is not checkpointed: the last checkpoint stays the last good one
                    return stop(records, TrainingResult.Status.NON_FINITE, String.format(java.util.Locale.ROOT,
                            "stopped after step %d: the validation loss is not finite (%s, %s recipe)", step,
                            Double.isNaN(val) ? "NaN" : val, model.recipeName()), t0, tokens);
                }
                if (group.rank() == 0) {                       // the replicas agree; one line per run
                    LOG.info("step {}/{}: train loss {}, validation loss {}", step, config.steps(), fmt(loss), fmt(val));
                }
                listener.onEvaluation(step, val);
            }
            double secs = (System.nanoTime() - ts) / 1e9;
            StepRecord r = new StepRecord(step, loss, val, lr, norm, config.tokensPerStep() / Math.max(secs, 1e-9));
            records.add(r);
            listener.onStep(r, config.steps());
            if (config.checkpointInterval() > 0 && step % config.checkpointInterval() == 0 && step < config.steps()) {
                saveCheckpoint(listener);
            }
            if (stopRequested && step < config.steps()) {
                Path p = saveCheckpoint(listener);
                String msg = "stopped on request after step " + step + (p == null ? "" : "; checkpoint " + p);
                LOG.info(msg);
                return new TrainingResult(List.copyOf(records), step, TrainingResult.Status.INTERRUPTED, msg, lastCheckpoint,
                        (System.nanoTime() - t0) / 1e9, tokens);
            }
        }
        finalValidation = evaluateFinal();
        saveCheckpoint(listener);
        return new TrainingResult(List.copyOf(records), step, TrainingResult.Status.COMPLETED, "completed " + step + " steps",
                lastCheckpoint, (System.nanoTime() - t0) / 1e9, tokens);
    }

    /**
     * This replica's share of a step: micro-batches g = rank·A + a (a = 0 … A − 1) at stream
     * positions base + g, each forward and backward on zeroed gradients, summed in FP32 left to
     * right (g₀ + g₁ + …, the order every accumulation uses); each parameter goes to the group as
     * soon as the last micro-batch's backward has finished it. The losses land in {@code losses}
     * (NaN from a failed forward on).
     *
     * @return the model's report of a non-finite forward, or null
     */
    private String localGradients(long base, double[] losses) {
        int first = group.rank() * perReplica;
        java.util.Arrays.fill(losses, Double.NaN);
        for (int a = 0; a < perReplica; a++) {
            trainSampler.seek(base + first + a);
            Batch b = trainSampler.next();
            for (Parameter p : params) {
                p.zeroGrad();
            }
            model.setMicroBatch(first + a);
            try {
                losses[a] = model.forward(b.tokens(), b.targets(), b.batch(), b.seq());
            } catch (ArithmeticException e) {
                // the model's way of reporting a non-finite loss (LlamaModel): no backward, the guard stops
                return e.getMessage();
            }
            if (perReplica == 1) {
                model.backward(group::reduce);
            } else if (a == 0) {
                model.backward();
                saveAccumulated();
            } else if (a < perReplica - 1) {
                model.backward();
                for (int i = 0; i < params.size(); i++) {
                    addInto(params.get(i).grad(), accumulated[i]);
                }
            } else {
                model.backward(p -> {
                    addInto(accumulated[params.indexOf(p)], p.grad());
                    group.reduce(p);
                });
            }
        }
        return null;
    }

    private void saveAccumulated() {
        if (accumulated.length != params.size()) {
            accumulated = new float[params.size()][];
            for (int i = 0; i < accumulated.length; i++) {
                accumulated[i] = new float[params.get(i).size()];
            }
        }
        for (int i = 0; i < accumulated.length; i++) {
            System.arraycopy(params.get(i).grad(), 0, accumulated[i], 0, accumulated[i].length);
        }
    }

    /** dst[i] = src[i] + dst[i] for all i (the sum so far plus the newest micro-batch's gradient). */
    private static void addInto(float[] src, float[] dst) {
        for (int i = 0; i < dst.length; i++) {
            dst[i] = src[i] + dst[i];
        }
    }

    /**
     * A model call failed for a non-numerical reason: the run stops as FAILED with the exception's
     * type and message. In a group the replicas cannot agree on one replica's failure, so the
     * exception propagates there (the task fails, and the cluster reports it).
     */
    private TrainingResult failed(TrainingListener listener, List<StepRecord> records, RuntimeException e, long t0, long tokens) {
        listener.onError(step + 1, e);
        if (group.size() > 1) {
            throw e;
        }
        LOG.error("step {} failed", step + 1, e);
        return stop(records, TrainingResult.Status.FAILED, String.format(java.util.Locale.ROOT,
                "stopped at step %d: the model failed (%s recipe): %s: %s", step + 1, model.recipeName(),
                e.getClass().getSimpleName(), e.getMessage()), t0, tokens);
    }

    /** The whole validation split at the end of a completed run (the periodic evaluations sample it). */
    private WindowLosses evaluateFinal() {
        try {
            WindowLosses v = evaluateSplit(Split.VALIDATION);
            LOG.info("step {}: loss over the whole validation split {} ({} windows, {} positions)", step, fmt(v.mean()), v.windows(),
                    v.positions());
            return v;
        } catch (ArithmeticException e) {
            LOG.warn("the validation loss over the whole split is not finite: {}", e.getMessage());
            return null;
        }
    }

    private TrainingResult stop(List<StepRecord> records, TrainingResult.Status status, String why, long t0, long tokens) {
        String msg = why + (lastCheckpoint != null ? "; the last good checkpoint is " + lastCheckpoint
                : checkpoints != null ? "; no checkpoint had been written yet" : "");
        LOG.error(msg);
        return new TrainingResult(List.copyOf(records), step, status, msg, lastCheckpoint, (System.nanoTime() - t0) / 1e9, tokens);
    }

    /**
     * The run's id: 16 hex digits of the SHA-256 of what defines the run (model configuration,
     * recipe, training configuration, data name and size). Training is deterministic, so two runs
     * with the same id are the same run; runs that differ in any of these never share a checkpoint
     * directory.
     */
    private String newRunId() {
        Map<String, String> what = new java.util.TreeMap<>(model.config());
        what.putAll(config.asMap());
        what.put("recipe", model.recipeName());
        what.put("data", data.name());
        what.put("data_size", Integer.toString(data.size()));
        try {
            byte[] h = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(what.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(h, 0, 8);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /**
     * The stochastic-rounding seed of a run with training seed {@code seed}: SplitMix64's finaliser
     * of seed ⊕ 0x5EED_F0_4_2_0_0_D (so runs with different seeds draw different rounding noise, and
     * a run resumed with its seed draws the same).
     */
    public static long roundingSeed(long seed) {
        long z = seed ^ 0x5EEDF04200DL;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    private static String fmt(double x) {
        return String.format(java.util.Locale.ROOT, "%.4f", x);
    }
}
