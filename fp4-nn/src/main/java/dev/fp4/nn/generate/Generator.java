package dev.fp4.nn.generate;

import dev.fp4.nn.InferenceModel;
import dev.fp4.nn.KvCache;
import dev.fp4.nn.data.Tokenizer;
import java.util.Arrays;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Text generation: the prompt is run once through the model (filling the {@link KvCache}), then
 * each new token costs one position. Draws come from a {@link SplittableRandom} seeded by the
 * caller, so a seed (with the same model, prompt and settings) gives the same text.
 *
 * <p><b>Context.</b> The model sees at most maxSeq positions. A prompt longer than that keeps its
 * last maxSeq tokens. When the cache is full, the newest ⌊maxSeq/2⌋ tokens are run again into an
 * empty cache (positions restart at 0) and generation continues from there: between maxSeq/2 and
 * maxSeq tokens of context, one re-run per maxSeq/2 tokens.
 *
 * <p>An empty prompt starts from the tokenizer's {@link Tokenizer#separator()} (not streamed).
 */
public final class Generator {
    private final InferenceModel model;
    private final Tokenizer tokenizer;
    private final KvCache cache;
    private final float[] logits;

    /** Receives each generated token and the bytes it stands for, as soon as it is drawn. */
    @FunctionalInterface
    public interface Listener {
        /** Called once per generated token, in order. */
        void onToken(int token, byte[] bytes);
    }

    /**
     * What a generation produced.
     *
     * @param prompt         the prompt's tokens (before any truncation)
     * @param generated      the new tokens
     * @param prefillSeconds time to run the prompt
     * @param decodeSeconds  time of the generation steps (drawing included)
     */
    public record Result(int[] prompt, int[] generated, double prefillSeconds, double decodeSeconds) {
        /** Generated tokens per second of the generation steps. */
        public double tokensPerSecond() {
            return decodeSeconds > 0 ? generated.length / decodeSeconds : 0;
        }
    }

    /**
     * A generator over a model and the tokenizer it was trained with.
     *
     * @throws IllegalArgumentException when the tokenizer's vocabulary is larger than the model's
     */
    public Generator(InferenceModel model, Tokenizer tokenizer) {
        this.model = Objects.requireNonNull(model, "model");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        if (tokenizer.vocabSize() > model.config().vocab()) {
            throw new IllegalArgumentException("the " + tokenizer.name() + " tokenizer has " + tokenizer.vocabSize()
                    + " tokens, the model only " + model.config().vocab());
        }
        this.cache = model.newCache();
        this.logits = new float[model.config().vocab()];
    }

    /** Generates up to {@code maxTokens} tokens after a text prompt. */
    public Result generate(String prompt, int maxTokens, Sampling sampling, long seed, Listener listener) {
        return generate(tokenizer.encode(prompt), maxTokens, sampling, seed, listener);
    }

    /**
     * Generates {@code maxTokens} tokens after the prompt's tokens (drawn over the tokenizer's
     * vocabulary: ids the model has beyond it are never drawn).
     *
     * @throws IllegalArgumentException when maxTokens is negative or a prompt token is outside the vocabulary
     */
    public Result generate(int[] prompt, int maxTokens, Sampling sampling, long seed, Listener listener) {
        Objects.requireNonNull(sampling, "sampling");
        if (maxTokens < 0) {
            throw new IllegalArgumentException("maxTokens must be >= 0, got " + maxTokens);
        }
        int capacity = cache.capacity();
        int[] context = prompt.length == 0 ? new int[] {tokenizer.separator()} : prompt;
        int[] history = Arrays.copyOf(context, context.length + maxTokens);
        int length = context.length;
        int start = Math.max(0, length - capacity);                // the prompt's last maxSeq tokens
        SplittableRandom random = new SplittableRandom(seed);
        long t0 = System.nanoTime();
        cache.clear();
        model.forward(history, start, length - start, cache, logits, false);
        long t1 = System.nanoTime();
        int vocab = tokenizer.vocabSize();
        for (int i = 0; i < maxTokens; i++) {
            int next = sampling.sample(logits, vocab, random);
            history[length++] = next;
            if (listener != null) {
                listener.onToken(next, tokenizer.bytes(history, length - 1, 1));
            }
            if (i == maxTokens - 1) {
                break;
            }
            if (cache.length() == capacity) {
                int keep = capacity / 2;                            // the ⌊capacity/2⌋ tokens before the new one
                cache.clear();
                if (keep > 0) {
                    model.forward(history, length - 1 - keep, keep, cache, logits, false);
                }
            }
            model.forward(history, length - 1, 1, cache, logits, false);
        }
        long t2 = System.nanoTime();
        return new Result(prompt.clone(), Arrays.copyOfRange(history, context.length, length), (t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }
}
