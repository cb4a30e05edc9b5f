package dev.fp4.nn;

import dev.fp4.core.quant.Fp4Scheme;
import java.util.Arrays;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Text generation from a {@link LlamaModel}: the prompt goes through a {@link KvDecoder} (no
 * position is computed twice), then tokens are sampled one at a time and appended. The same
 * model, prompt and {@link Sampling} give the same tokens.
 */
public final class Generator {
    /**
     * How the next token is drawn from the logits z.
     *
     * @param temperature p ∝ exp(z / temperature); 0 picks the most likely token (ties to the lowest id)
     * @param topK        keep only the k most likely tokens (0: all)
     * @param topP        then keep the smallest set of the most likely of those whose probability
     *                    reaches p of theirs (1: all)
     * @param seed        seed of the draws (SplittableRandom; one draw per token)
     */
    public record Sampling(double temperature, int topK, double topP, long seed) {
        /** Validates, naming the field. */
        public Sampling {
            if (!(temperature >= 0) || Double.isInfinite(temperature)) {
                throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
            }
            if (topK < 0) {
                throw new IllegalArgumentException("topK must be >= 0, got " + topK);
            }
            if (!(topP > 0 && topP <= 1)) {
                throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
            }
        }
    }

    private final KvDecoder decoder;
    private final int vocab;
    private final float[] logits;
    private final double[] p;
    private final Integer[] order;
    private double lastTokensPerSecond;

    /** A generator with FP32 weights. */
    public Generator(LlamaModel model) {
        this(model, KvDecoder.Weights.FP32, null);
    }

    /** A generator whose linear weights are held as {@code weights} (FP4 under {@code scheme}). */
    public Generator(LlamaModel model, KvDecoder.Weights weights, Fp4Scheme scheme) {
        this.decoder = new KvDecoder(model, weights, scheme);
        this.vocab = model.config().vocab();
        this.logits = new float[vocab];
        this.p = new double[vocab];
        this.order = new Integer[vocab];
    }

    /** Bytes of the linear weights as held ({@link KvDecoder#weightBytes()}). */
    public long weightBytes() {
        return decoder.weightBytes();
    }

    /** Generated tokens per second of the last {@link #generate} call (prompt excluded). */
    public double tokensPerSecond() {
        return lastTokensPerSecond;
    }

    /**
     * Runs the prompt, then samples up to {@code maxTokens} tokens (fewer when the model's context
     * is full), passing each to {@code onToken} as it is drawn.
     *
     * @param prompt at least one token id, fewer than the model's context length
     * @return the generated tokens
     * @throws IllegalArgumentException for an empty or too long prompt, or bad token ids
     */
    public int[] generate(int[] prompt, int maxTokens, Sampling sampling, IntConsumer onToken) {
        Objects.requireNonNull(sampling, "sampling");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt needs at least one token");
        }
        if (prompt.length >= decoder.capacity()) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens; the model's context holds "
                    + decoder.capacity() + " (leave room for at least one generated token)");
        }
        if (maxTokens < 0) {
            throw new IllegalArgumentException("maxTokens must be >= 0, got " + maxTokens);
        }
        decoder.reset();
        for (int t : prompt) {
            decoder.next(t, logits);
        }
        SplittableRandom random = new SplittableRandom(sampling.seed());
        int n = Math.min(maxTokens, decoder.capacity() - prompt.length);
        int[] out = new int[n];
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            int token = sample(logits, sampling, random.nextDouble());
            out[i] = token;
            onToken.accept(token);
            if (i + 1 < n) {
                decoder.next(token, logits);
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        lastTokensPerSecond = n / Math.max(secs, 1e-9);
        return out;
    }

    /**
     * The token drawn from {@code z} with uniform variate {@code u} ∈ [0, 1): tokens ordered by
     * probability (ties by id), cut to top-k and top-p, renormalised, and the first whose
     * cumulative probability exceeds u·total.
     */
    int sample(float[] z, Sampling s, double u) {
        if (s.temperature() == 0) {
            int best = 0;
            for (int i = 1; i < vocab; i++) {
                if (z[i] > z[best]) {
                    best = i;
                }
            }
            return best;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, z[i]);
        }
        for (int i = 0; i < vocab; i++) {
            p[i] = StrictMath.exp((z[i] - max) / s.temperature());
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        int keep = s.topK() == 0 ? vocab : Math.min(s.topK(), vocab);
        double massK = 0;
        for (int i = 0; i < keep; i++) {
            massK += p[order[i]];
        }
        double kept = 0;
        int cut = 0;
        while (cut < keep) {                 // top-p within the top-k tokens, as Hugging Face applies them
            kept += p[order[cut]];
            cut++;
            if (kept >= s.topP() * massK) {
                break;
            }
        }
        double target = u * kept;
        double acc = 0;
        for (int i = 0; i < cut; i++) {
            acc += p[order[i]];
            if (acc > target) {
                return order[i];
            }
        }
        return order[cut - 1];
    }
}
