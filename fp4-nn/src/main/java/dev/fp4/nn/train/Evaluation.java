package dev.fp4.nn.train;

import java.util.Objects;

/**
 * The loss of a model over every position of a text: the tokens cut into non-overlapping windows
 * of {@code seq} predictions (window w predicts tokens w·seq + 1 … from tokens w·seq …), the last
 * window shorter when the count does not divide, each window read from its own start (no context
 * carried across windows). Nothing is sampled: every position counts once.
 *
 * @param meanLoss    mean cross-entropy per predicted token, nats
 * @param predictions predicted tokens (the text's tokens minus one)
 */
public record Evaluation(double meanLoss, long predictions) {
    /** Bits per token: meanLoss / ln 2 (for byte tokens, bits per byte). */
    public double bitsPerToken() {
        return meanLoss / Math.log(2);
    }

    /** Perplexity: e^meanLoss. */
    public double perplexity() {
        return Math.exp(meanLoss);
    }

    /**
     * Evaluates {@code model} on {@code tokens}, full windows {@code batch} at a time.
     *
     * @throws IllegalArgumentException when there are fewer than two tokens or seq/batch are not positive
     */
    public static Evaluation of(TrainableModel model, int[] tokens, int seq, int batch) {
        Objects.requireNonNull(model, "model");
        if (tokens.length < 2) {
            throw new IllegalArgumentException("need at least 2 tokens to evaluate, got " + tokens.length);
        }
        if (seq <= 0 || batch <= 0) {
            throw new IllegalArgumentException("seq and batch must be positive, got " + seq + ", " + batch);
        }
        long predictions = tokens.length - 1L;
        long full = predictions / seq;
        int rest = (int) (predictions % seq);
        double sum = 0;
        int[] in = new int[batch * seq];
        int[] out = new int[batch * seq];
        for (long w = 0; w < full; w += batch) {
            int b = (int) Math.min(batch, full - w);
            for (int r = 0; r < b; r++) {
                int start = (int) ((w + r) * seq);
                System.arraycopy(tokens, start, in, r * seq, seq);
                System.arraycopy(tokens, start + 1, out, r * seq, seq);
            }
            sum += (double) model.evaluate(in, out, b, seq) * b * seq;
        }
        if (rest > 0) {
            int start = (int) (full * seq);
            int[] tin = new int[rest];
            int[] tout = new int[rest];
            System.arraycopy(tokens, start, tin, 0, rest);
            System.arraycopy(tokens, start + 1, tout, 0, rest);
            sum += (double) model.evaluate(tin, tout, 1, rest) * rest;
        }
        return new Evaluation(sum / predictions, predictions);
    }
}
