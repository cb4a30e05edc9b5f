package dev.fp4.core.quant;

/**
 * How a scaled value is rounded to E2M1.
 *
 * <ul>
 *   <li>{@link #RNE}: round to nearest, ties to even (the hardware rule; the default).</li>
 *   <li>{@link #HALF_UP}: round to nearest, ties toward +∞, zero always +0 — the official
 *       simulation kernel of Wang et al. (2025), bit for bit.</li>
 *   <li>{@link #stochastic(long)}: stochastic rounding (SR). A value between grid neighbours
 *       lo ≤ |y| &lt; hi rounds up with probability (|y| − lo)/(hi − lo), so E[q] = y for
 *       |y| ≤ 6 (up to the 2^−24 resolution of the random variate: |E[q] − y| ≤ 2^−24·(hi − lo));
 *       |y| &gt; 6 saturates to ±6. The variate of element i is a counter-based hash of
 *       (seed, stream, i), where i is the element's flat row-major index in the tensor: the result
 *       depends on nothing else (not on vector width, blocking or threads). Advance the stream with
 *       {@link #withStream(long)} (e.g. the training step) to draw fresh variates.</li>
 * </ul>
 * Instances are immutable values.
 */
public final class Rounding {

    /** The kind of rounding. */
    public enum Mode {
        /** Round to nearest, ties to even. */
        NEAREST_EVEN,
        /** Round to nearest, ties toward +∞ (the official simulation kernel). */
        HALF_UP,
        /** Stochastic rounding from a counter-based hash. */
        STOCHASTIC
    }

    /** Round to nearest, ties to even (the default). */
    public static final Rounding RNE = new Rounding(Mode.NEAREST_EVEN, 0, 0);

    /** Round to nearest, ties toward +∞ (reproduces the official simulation kernel). */
    public static final Rounding HALF_UP = new Rounding(Mode.HALF_UP, 0, 0);

    private final Mode mode;
    private final long seed;
    private final long stream;
    private final int key0;
    private final int key1;

    private Rounding(Mode mode, long seed, long stream) {
        this.mode = mode;
        this.seed = seed;
        this.stream = stream;
        long key = mix64(seed ^ mix64(stream + 0x9E3779B97F4A7C15L));
        this.key0 = (int) key;
        this.key1 = (int) (key >>> 32);
    }

    /** Stochastic rounding with this seed, stream 0. */
    public static Rounding stochastic(long seed) {
        return new Rounding(Mode.STOCHASTIC, seed, 0);
    }

    /**
     * The same rounding drawing from another stream of variates (only meaningful for stochastic
     * rounding; returns this for the deterministic modes). Typically the stream is the training step.
     */
    public Rounding withStream(long stream) {
        return mode == Mode.STOCHASTIC ? new Rounding(mode, seed, stream) : this;
    }

    /** The mode. */
    public Mode mode() {
        return mode;
    }

    /** The seed (0 for the deterministic modes). */
    public long seed() {
        return seed;
    }

    /** The stream (0 for the deterministic modes). */
    public long stream() {
        return stream;
    }

    /** {@code true} for stochastic rounding. */
    public boolean isStochastic() {
        return mode == Mode.STOCHASTIC;
    }

    /**
     * The uniform variate in [0, 1) (a multiple of 2^−24) that stochastic rounding uses for the
     * element with flat index {@code index}. Defined for every mode (deterministic modes ignore it).
     */
    public float uniform(int index) {
        return QuantKernels.uniform(QuantKernels.hash(index, key0, key1));
    }

    int key0() {
        return key0;
    }

    int key1() {
        return key1;
    }

    /** SplitMix64 finaliser. */
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Rounding r && r.mode == mode && r.seed == seed && r.stream == stream;
    }

    @Override
    public int hashCode() {
        return (mode.hashCode() * 31 + Long.hashCode(seed)) * 31 + Long.hashCode(stream);
    }

    @Override
    public String toString() {
        return switch (mode) {
            case NEAREST_EVEN -> "RNE";
            case HALF_UP -> "HALF_UP";
            case STOCHASTIC -> "SR(seed=" + seed + (stream != 0 ? ", stream=" + stream : "") + ")";
        };
    }
}
