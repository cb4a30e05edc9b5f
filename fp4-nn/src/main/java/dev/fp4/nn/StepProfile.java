package dev.fp4.nn;

/**
 * Optional wall-clock accounting of a training step by phase, for benchmarks: when enabled, the
 * layers add the time of each phase (measured on the calling thread, parallel parts included)
 * into per-phase totals. Disabled by default; then it costs one branch per phase boundary.
 *
 * <p>Not thread-safe: one model steps at a time while it is enabled.
 */
public final class StepProfile {
    /** The phases a step is split into. */
    public enum Phase {
        /** Linear layers: their GeMMs and the recipe's quantization of the GeMM operands. */
        LINEAR,
        /** The attention core: scores, causal softmax, weighted values, and their backward. */
        ATTENTION,
        /** Element-wise and row kernels: embedding, norms, RoPE, SwiGLU, residual adds, loss. */
        ELEMENTWISE,
        /** The optimizer step (timed by the caller that runs it, see {@link #add}). */
        OPTIMIZER
    }

    private static boolean enabled;
    private static final long[] NANOS = new long[Phase.values().length];

    private StepProfile() {
    }

    /** Turns the accounting on or off (totals are kept). */
    public static void setEnabled(boolean on) {
        enabled = on;
    }

    /** True while accounting. */
    public static boolean enabled() {
        return enabled;
    }

    /** Sets every total to zero. */
    public static void reset() {
        java.util.Arrays.fill(NANOS, 0L);
    }

    /** Total nanoseconds of {@code phase} since the last {@link #reset()}. */
    public static long nanos(Phase phase) {
        return NANOS[phase.ordinal()];
    }

    /** Adds {@code nanos} to {@code phase} (for phases timed outside the model). */
    public static void add(Phase phase, long nanos) {
        NANOS[phase.ordinal()] += nanos;
    }

    /** A start time, or 0 when disabled. */
    static long start() {
        return enabled ? System.nanoTime() : 0L;
    }

    /** Adds the time since {@code start} to {@code phase} and returns the current time (or 0). */
    static long lap(Phase phase, long start) {
        if (!enabled) {
            return 0L;
        }
        long now = System.nanoTime();
        NANOS[phase.ordinal()] += now - start;
        return now;
    }
}
