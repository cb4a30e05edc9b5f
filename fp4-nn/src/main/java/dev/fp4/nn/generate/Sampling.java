package dev.fp4.nn.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * How the next token is drawn from the logits z: temperature 0 takes the arg max (the lowest id
 * among equal maxima). Otherwise the ids are ordered by z descending (ties by id ascending); the
 * first {@code topK} are kept (0 keeps all); with p_i ∝ exp((z_i − z_max)/temperature) over those,
 * the shortest prefix whose mass reaches {@code topP} is kept (at least one id); one draw
 * u ~ U[0, mass) of the random stream then picks the id whose cumulative mass first exceeds u.
 * Computed in double; the same logits and stream give the same id.
 *
 * @param temperature ≥ 0 and finite
 * @param topK        ≥ 0 (0: no limit)
 * @param topP        in (0, 1]
 */
public record Sampling(double temperature, int topK, double topP) {
    /** Validates the ranges. */
    public Sampling {
        if (!(temperature >= 0) || !Double.isFinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0 and finite, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be >= 0 (0: no limit), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        }
    }

    /** The command line's defaults: temperature 0.8, no top-k, top-p 0.95. */
    public static Sampling defaults() {
        return new Sampling(0.8, 0, 0.95);
    }

    /** Greedy decoding (temperature 0). */
    public static Sampling greedy() {
        return new Sampling(0, 0, 1);
    }

    /** Draws an id from {@code logits[0, vocab)}. */
    public int sample(float[] logits, int vocab, SplittableRandom random) {
        if (temperature == 0) {
            int best = 0;
            for (int i = 1; i < vocab; i++) {
                if (logits[i] > logits[best]) {
                    best = i;
                }
            }
            return best;
        }
        // Keys ordering by logit descending, then id ascending: the float's order-preserving integer,
        // complemented, in the high word; the id in the low word.
        long[] keys = new long[vocab];
        for (int i = 0; i < vocab; i++) {
            int b = Float.floatToIntBits(logits[i]);
            int ordered = b >= 0 ? b : b ^ 0x7fffffff;                 // monotone in the float value
            keys[i] = ((long) ~ordered << 32) | i;
        }
        Arrays.sort(keys);
        int kept = topK == 0 ? vocab : Math.min(topK, vocab);
        double zMax = logits[(int) keys[0]];
        double[] p = new double[kept];
        double total = 0;
        for (int i = 0; i < kept; i++) {
            p[i] = Math.exp((logits[(int) keys[i]] - zMax) / temperature);
            total += p[i];
        }
        double mass = 0;
        int n = 0;
        while (n < kept) {
            mass += p[n++];
            if (mass >= topP * total) {
                break;
            }
        }
        double u = random.nextDouble() * mass;
        double c = 0;
        for (int i = 0; i < n; i++) {
            c += p[i];
            if (u < c) {
                return (int) keys[i];
            }
        }
        return (int) keys[n - 1];
    }
}
