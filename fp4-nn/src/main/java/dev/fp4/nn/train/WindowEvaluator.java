package dev.fp4.nn.train;

import java.util.Objects;

/**
 * Scores a model on every position of a token sequence t[0, n): window w takes the inputs
 * t[w·seq, w·seq + len) and the targets one token later, len = min(seq, n − 1 − w·seq), so the
 * windows do not overlap, each starts with an empty context, and the last one may be shorter. Full
 * windows are evaluated {@code batch} at a time, the partial last window alone.
 */
public final class WindowEvaluator {
    private WindowEvaluator() {
    }

    /**
     * The per-window losses of {@code model} over {@code tokens}.
     *
     * @throws IllegalArgumentException when there are fewer than 2 tokens, or seq or batch is not positive
     * @throws ArithmeticException      when the model reports a non-finite loss
     */
    public static WindowLosses evaluate(TrainableModel model, int[] tokens, int seq, int batch) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(tokens, "tokens");
        if (seq <= 0 || batch <= 0) {
            throw new IllegalArgumentException("seq and batch must be positive, got " + seq + " and " + batch);
        }
        long targets = tokens.length - 1L;
        if (targets < 1) {
            throw new IllegalArgumentException("evaluation needs at least 2 tokens, got " + tokens.length);
        }
        int windows = (int) ((targets + seq - 1) / seq);
        int full = (int) (targets / seq);
        double[] losses = new double[windows];
        int[] lengths = new int[windows];
        int[] in = new int[batch * seq];
        int[] out = new int[batch * seq];
        double[] rows = new double[batch];
        for (int w0 = 0; w0 < full; w0 += batch) {
            int b = Math.min(batch, full - w0);
            for (int r = 0; r < b; r++) {
                System.arraycopy(tokens, (w0 + r) * seq, in, r * seq, seq);
                System.arraycopy(tokens, (w0 + r) * seq + 1, out, r * seq, seq);
            }
            model.evaluateRows(in, out, b, seq, rows);
            for (int r = 0; r < b; r++) {
                losses[w0 + r] = rows[r];
                lengths[w0 + r] = seq;
            }
        }
        if (full < windows) {
            int start = full * seq;
            int len = (int) (targets - start);
            int[] t = java.util.Arrays.copyOfRange(tokens, start, start + len);
            int[] y = java.util.Arrays.copyOfRange(tokens, start + 1, start + 1 + len);
            model.evaluateRows(t, y, 1, len, rows);
            losses[full] = rows[0];
            lengths[full] = len;
        }
        for (int w = 0; w < windows; w++) {
            if (!Double.isFinite(losses[w])) {
                throw new ArithmeticException("loss of window " + w + " (tokens from " + (long) w * seq + ") is " + losses[w]);
            }
        }
        return new WindowLosses(losses, lengths);
    }
}
