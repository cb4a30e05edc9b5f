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
 * <li>zero the gradients; for each of {@code accumulation} micro-batches from the training
 * sampler: forward, backward; the step's loss is the mean of the micro-batch losses and the
 * gradients are scaled by 1/accumulation;</li>
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
    private final AdamW optimizer;
    private final LearningRateSchedule schedule;
    private final BatchSampler trainSampler;
    private final BatchSampler evalSampler;
    private volatile boolean stopRequested;
    private long step;
    private Path lastCheckpoint;
    private WindowLosses finalValidation;

    /**
     * @param checkpoints where to write checkpoints, or null for none
     * @throws IllegalArgumentException when the dataset is too small for the sequence length
     */
    public Trainer(TrainableModel model, TextDataset data, TrainingConfig config, CheckpointDirectory checkpoints) {
        this.model = Objects.requireNonNull(model, "model");
        this.data = Objects.requireNonNull(data, "data");
        this.config = Objects.requireNonNull(config, "config");
        this.checkpoints = checkpoints;
        this.params = model.parameters();
        this.optimizer = new AdamW(params, new AdamW.Settings(0.9, 0.95, 1e-8, config.weightDecay(), config.moments(),
                WeightDecayRule.MATRICES_EXCEPT_EMBEDDINGS));
        this.schedule = LearningRateSchedule.warmupCosine(config.peakLr(), config.warmupSteps(), config.steps(), config.floorFraction());
        this.trainSampler = data.sampler(Split.TRAIN, config.batch(), config.seq(), config.seed());
        this.evalSampler = data.sampler(Split.VALIDATION, config.batch(), config.seq(), config.seed() ^ EVAL_SEED_SALT);
    }

    /** Steps completed so far. */
    public long step() {
        return step;
    }

    /** The optimizer (for inspection). */
    public AdamW optimizer() {
        return optimizer;
    }

    /** Asks a running {@link #run()} to stop after the current step and write a checkpoint. Thread-safe. */
    public void requestStop() {
        stopRequested = true;
    }

    /** The checkpoint of the current state. */
    public Checkpoint checkpoint() {
        Map<String, String> cfg = new LinkedHashMap<>(model.config());
        cfg.putAll(config.asMap());
        return Checkpoint.capture(step, config.seed(), Map.of("train", trainSampler.position()), model.recipeName(), cfg, params,
                optimizer.state(), Map.of("data", data.name(), "tokenizer", data.tokenizer().name()));
    }

    /**
     * Restores a checkpoint written by a run of the same model configuration, recipe, batch shape,
     * moment precision and seed.
     *
     * @throws IllegalArgumentException naming the first mismatch
     */
    public void resume(Checkpoint c) {
        if (!c.recipe().equals(model.recipeName())) {
            throw new IllegalArgumentException("checkpoint was written with recipe " + c.recipe() + ", this run uses " + model.recipeName());
        }
        Map<String, String> need = new LinkedHashMap<>(model.config());
        need.putAll(config.resumeKey());
        for (var e : need.entrySet()) {
            String have = c.config().get(e.getKey());
            if (!e.getValue().equals(have)) {
                throw new IllegalArgumentException("checkpoint " + e.getKey() + " = " + have + ", this run has " + e.getValue());
            }
        }
        String tokenizer = c.extra().getOrDefault("tokenizer", "byte");
        if (!tokenizer.equals(data.tokenizer().name())) {
            throw new IllegalArgumentException("checkpoint was trained with the " + tokenizer + " tokenizer, this run's data uses "
                    + data.tokenizer().name());
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
        LOG.info("resumed from step {} ({} recipe)", step, c.recipe());
    }

    /** Resumes from the newest valid checkpoint of the directory; false when there is none. */
    public boolean resumeLatest() throws IOException {
        if (checkpoints == null) {
            return false;
        }
        var latest = checkpoints.latestValid();
        if (latest.isEmpty()) {
            return false;
        }
        resume(latest.get().checkpoint());
        lastCheckpoint = latest.get().path();
        return true;
    }

    /**
     * Mean validation loss over the fixed validation batches; NaN (with a warning quoting the
     * model's report) when the model reports a non-finite loss by throwing ArithmeticException.
     * {@link #run} stops on a non-finite validation loss.
     */
    public double evaluate() {
        evalSampler.seek(0);
        double sum = 0;
        for (int i = 0; i < config.evalBatches(); i++) {
            Batch b = evalSampler.next();
            try {
                sum += model.evaluate(b.tokens(), b.targets(), b.batch(), b.seq());
            } catch (ArithmeticException e) {
                LOG.warn("validation loss at step {} is not finite: {}", step, e.getMessage());
                return Double.NaN;
            }
        }
        return sum / config.evalBatches();
    }

    /**
     * The model's losses on every window of a split ({@link WindowEvaluator}: non-overlapping
     * windows of the run's sequence length, the last one partial), in batches of the run's batch size.
     *
     * @throws ArithmeticException when the model reports a non-finite loss
     */
    public WindowLosses evaluateSplit(Split split) {
        return WindowEvaluator.evaluate(model, data.tokens(split), config.seq(), config.batch());
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
        List<StepRecord> records = new ArrayList<>();
        long t0 = System.nanoTime();
        long tokens = 0;
        double bestEma = Double.POSITIVE_INFINITY;
        double ema = Double.NaN;
        int accum = config.accumulation();
        float inv = 1f / accum;
        while (step < config.steps()) {
            long ts = System.nanoTime();
            model.setStep(step, config.steps());
            for (Parameter p : params) {
                p.zeroGrad();
            }
            double lossSum = 0;
            String modelReport = null;
            for (int a = 0; a < accum; a++) {
                Batch b = trainSampler.next();
                try {
                    lossSum += model.forward(b.tokens(), b.targets(), b.batch(), b.seq());
                } catch (ArithmeticException e) {
                    // the model's way of reporting a non-finite loss (LlamaModel): no backward, the guard stops
                    lossSum = Double.NaN;
                    modelReport = e.getMessage();
                    break;
                }
                model.backward();
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
                val = evaluate();
                if (!Double.isFinite(val)) {
                    // the state after this update is not checkpointed: the last checkpoint stays the last good one
                    return stop(records, TrainingResult.Status.NON_FINITE, String.format(java.util.Locale.ROOT,
                            "stopped after step %d: the validation loss is not finite (%s, %s recipe)", step,
                            Double.isNaN(val) ? "NaN" : val, model.recipeName()), t0, tokens);
                }
                LOG.info("step {}/{}: train loss {}, validation loss {}", step, config.steps(), fmt(loss), fmt(val));
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

    private static String fmt(double x) {
        return String.format(java.util.Locale.ROOT, "%.4f", x);
    }
}
