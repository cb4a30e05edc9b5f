package dev.fp4.nn.train;

import dev.fp4.nn.optim.MomentPrecision;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Settings of a training run. Defaults ({@link #defaults()}) follow the paper where it is
 * specific (AdamW β = (0.9, 0.95), ε = 1e-8, λ = 0.1, warm-up 5% then cosine to 10% of the peak)
 * and pick small-model values elsewhere.
 *
 * @param steps              optimizer steps
 * @param batch              sequences per micro-batch
 * @param seq                tokens per sequence
 * @param accumulation       micro-batches per optimizer step (gradients averaged)
 * @param peakLr             peak learning rate
 * @param warmupFraction     fraction of steps spent warming up
 * @param floorFraction      final learning rate as a fraction of the peak
 * @param weightDecay        decoupled weight decay λ (matrices except embeddings)
 * @param clipNorm           global gradient-norm threshold (0 disables clipping)
 * @param moments            optimizer moment storage
 * @param evalInterval       evaluate every this many steps (and after the last step)
 * @param evalBatches        validation batches per evaluation
 * @param checkpointInterval write a checkpoint every this many steps (0: only at the end and on stop)
 * @param seed               seed of the data order (the model has its own)
 * @param divergenceFactor   stop when the training loss exceeds this multiple of the lowest
 *                           smoothed loss seen (after {@link #GUARD_WARMUP_STEPS} steps)
 */
public record TrainingConfig(int steps, int batch, int seq, int accumulation, double peakLr, double warmupFraction,
                             double floorFraction, double weightDecay, double clipNorm, MomentPrecision moments,
                             int evalInterval, int evalBatches, int checkpointInterval, long seed, double divergenceFactor)
        implements java.io.Serializable {
    /** Steps before the divergence test starts (the loss is noisy at first). */
    public static final int GUARD_WARMUP_STEPS = 10;

    /** Validates ranges, naming the offending field. */
    public TrainingConfig {
        requirePositive("steps", steps);
        requirePositive("batch", batch);
        requirePositive("seq", seq);
        requirePositive("accumulation", accumulation);
        requirePositive("evalInterval", evalInterval);
        requirePositive("evalBatches", evalBatches);
        if (checkpointInterval < 0) {
            throw new IllegalArgumentException("checkpointInterval must be >= 0, got " + checkpointInterval);
        }
        if (!(peakLr > 0) || !Double.isFinite(peakLr)) {
            throw new IllegalArgumentException("peakLr must be positive, got " + peakLr);
        }
        if (!(warmupFraction >= 0 && warmupFraction <= 1) || !(floorFraction >= 0 && floorFraction <= 1)) {
            throw new IllegalArgumentException("warmupFraction and floorFraction must be in [0, 1], got " + warmupFraction + ", " + floorFraction);
        }
        if (!(clipNorm >= 0) || !(weightDecay >= 0) || !(divergenceFactor > 1)) {
            throw new IllegalArgumentException("need clipNorm >= 0, weightDecay >= 0, divergenceFactor > 1; got "
                    + clipNorm + ", " + weightDecay + ", " + divergenceFactor);
        }
        java.util.Objects.requireNonNull(moments, "moments");
    }

    private static void requirePositive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
    }

    /**
     * 300 steps of 16 × 64 tokens, peak LR 3e-3 (a small model tolerates more than the paper's
     * 3e-4 at 1.3B), clip 1.0, FP32 moments, evaluation every 25 steps over 8 batches.
     */
    public static TrainingConfig defaults() {
        return new TrainingConfig(300, 16, 64, 1, 3e-3, 0.05, 0.1, 0.1, 1.0, MomentPrecision.FP32, 25, 8, 0, 1234, 3.0);
    }

    /** Warm-up steps: round(warmupFraction · steps), at least 1 when the fraction is positive. */
    public long warmupSteps() {
        long w = Math.round(warmupFraction * steps);
        return warmupFraction > 0 ? Math.max(1, Math.min(w, steps)) : 0;
    }

    /** Tokens per optimizer step. */
    public long tokensPerStep() {
        return (long) batch * seq * accumulation;
    }

    /** A copy with another step count. */
    public TrainingConfig withSteps(int s) {
        return new TrainingConfig(s, batch, seq, accumulation, peakLr, warmupFraction, floorFraction, weightDecay, clipNorm, moments,
                evalInterval, evalBatches, checkpointInterval, seed, divergenceFactor);
    }

    /** A copy with other batch and sequence sizes. */
    public TrainingConfig withBatch(int b, int s) {
        return new TrainingConfig(steps, b, s, accumulation, peakLr, warmupFraction, floorFraction, weightDecay, clipNorm, moments,
                evalInterval, evalBatches, checkpointInterval, seed, divergenceFactor);
    }

    /** A copy with another seed. */
    public TrainingConfig withSeed(long s) {
        return new TrainingConfig(steps, batch, seq, accumulation, peakLr, warmupFraction, floorFraction, weightDecay, clipNorm, moments,
                evalInterval, evalBatches, checkpointInterval, s, divergenceFactor);
    }

    /** A copy with other evaluation and checkpoint intervals. */
    public TrainingConfig withIntervals(int eval, int evalBatchCount, int checkpoint) {
        return new TrainingConfig(steps, batch, seq, accumulation, peakLr, warmupFraction, floorFraction, weightDecay, clipNorm, moments,
                eval, evalBatchCount, checkpoint, seed, divergenceFactor);
    }

    /** A copy with another learning rate and accumulation. */
    public TrainingConfig withLr(double lr, int accum) {
        return new TrainingConfig(steps, batch, seq, accum, lr, warmupFraction, floorFraction, weightDecay, clipNorm, moments,
                evalInterval, evalBatches, checkpointInterval, seed, divergenceFactor);
    }

    /** A copy with another moment precision. */
    public TrainingConfig withMoments(MomentPrecision m) {
        return new TrainingConfig(steps, batch, seq, accumulation, peakLr, warmupFraction, floorFraction, weightDecay, clipNorm, m,
                evalInterval, evalBatches, checkpointInterval, seed, divergenceFactor);
    }

    /** The fields that must match for an exact resume, as strings. */
    Map<String, String> resumeKey() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("train.batch", Integer.toString(batch));
        m.put("train.seq", Integer.toString(seq));
        m.put("train.accumulation", Integer.toString(accumulation));
        m.put("train.moments", moments.name());
        m.put("train.seed", Long.toString(seed));
        return m;
    }

    /** All fields as strings. */
    Map<String, String> asMap() {
        Map<String, String> m = resumeKey();
        m.put("train.steps", Integer.toString(steps));
        m.put("train.peak_lr", Double.toString(peakLr));
        m.put("train.warmup_fraction", Double.toString(warmupFraction));
        m.put("train.floor_fraction", Double.toString(floorFraction));
        m.put("train.weight_decay", Double.toString(weightDecay));
        m.put("train.clip_norm", Double.toString(clipNorm));
        return m;
    }
}
