package dev.fp4.nn.train;

/**
 * What one optimizer step produced.
 *
 * @param step          steps completed (1-based)
 * @param trainLoss     mean training loss over the step's micro-batches (nats per token)
 * @param valLoss       validation loss when evaluated after this step, else NaN
 * @param lr            learning rate used
 * @param gradNorm      global gradient norm before clipping
 * @param tokensPerSec  training throughput of this step (wall clock; not reproducible)
 */
public record StepRecord(long step, double trainLoss, double valLoss, double lr, double gradNorm, double tokensPerSec)
        implements java.io.Serializable {
    /** True when this step carries a validation loss. */
    public boolean evaluated() {
        return !Double.isNaN(valLoss);
    }
}
