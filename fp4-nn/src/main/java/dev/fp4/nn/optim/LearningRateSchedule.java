package dev.fp4.nn.optim;

/**
 * Learning rate as a function of the optimizer step (0-based).
 */
@FunctionalInterface
public interface LearningRateSchedule {
    /** The learning rate for step {@code step} (0-based). */
    double at(long step);

    /** A constant rate. */
    static LearningRateSchedule constant(double lr) {
        return step -> lr;
    }

    /**
     * Linear warm-up then cosine decay to a floor:
     * <ul>
     * <li>step s &lt; W: lr = peak·(s+1)/W (the last warm-up step reaches the peak);</li>
     * <li>W ≤ s ≤ T−1: with p = (s−W)/(T−1−W), lr = floor + (peak−floor)·(1+cos πp)/2, so step W
     * runs at the peak and the last step T−1 at the floor (p = 0 when T−1 = W);</li>
     * <li>s ≥ T: the floor.</li>
     * </ul>
     *
     * @param peak          peak learning rate, positive
     * @param warmupSteps   W, in [0, totalSteps]
     * @param totalSteps    T, positive
     * @param floorFraction floor / peak, in [0, 1]
     */
    static LearningRateSchedule warmupCosine(double peak, long warmupSteps, long totalSteps, double floorFraction) {
        if (!(peak > 0) || !Double.isFinite(peak)) {
            throw new IllegalArgumentException("peak learning rate must be positive and finite, got " + peak);
        }
        if (totalSteps <= 0 || warmupSteps < 0 || warmupSteps > totalSteps) {
            throw new IllegalArgumentException("need 0 <= warmupSteps <= totalSteps and totalSteps > 0, got warmup "
                    + warmupSteps + ", total " + totalSteps);
        }
        if (!(floorFraction >= 0 && floorFraction <= 1)) {
            throw new IllegalArgumentException("floorFraction must be in [0, 1], got " + floorFraction);
        }
        double floor = peak * floorFraction;
        long decaySpan = Math.max(1, totalSteps - 1 - warmupSteps);
        return step -> {
            if (step < 0) {
                throw new IllegalArgumentException("negative step " + step);
            }
            if (step < warmupSteps) {
                return peak * (step + 1) / warmupSteps;
            }
            if (step >= totalSteps) {
                return floor;
            }
            double p = Math.min(1.0, (double) (step - warmupSteps) / decaySpan);
            if (totalSteps - 1 == warmupSteps) {
                p = 0;
            }
            return floor + (peak - floor) * 0.5 * (1 + StrictMath.cos(Math.PI * p));
        };
    }

    /**
     * The schedule of Wang et al. (2025): warm-up over 5% of the steps (rounded, at least 1), then
     * cosine decay to 10% of the peak.
     */
    static LearningRateSchedule paper(double peak, long totalSteps) {
        long warmup = Math.max(1, Math.round(0.05 * totalSteps));
        return warmupCosine(peak, Math.min(warmup, totalSteps), totalSteps, 0.1);
    }
}
