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
        return evaluate(model, tokens, seq, batch, ReplicaGroup.single());
    }

    /**
     * As {@link #evaluate(TrainableModel, int[], int, int)}, shared by the replicas of a group:
     * evaluation call k (batch k of full windows, then the partial window) runs on replica
     * k mod size, and the losses are gathered, so every replica returns the single process's
     * result bit for bit (each call sees the same rows). Every replica of the group must call it.
     */
    public static WindowLosses evaluate(TrainableModel model, int[] tokens, int seq, int batch, ReplicaGroup group) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(group, "group");
        if (seq <= 0 || batch <= 0) {
            throw new IllegalArgumentException("seq and batch must be positive, got " + seq + " and " + batch);
        }
        long targets = tokens.length - 1L;
        if (targets < 1) {
            throw new IllegalArgumentException("evaluation needs at least 2 tokens, got " + tokens.length);
        }
        int windows = (int) ((targets + seq - 1) / seq);
        int full = (int) (targets / seq);
        int calls = (full + batch - 1) / batch + (full < windows ? 1 : 0);
        int size = group.size();
        int rank = group.rank();
        double[] mine = new double[windows];
        int filled = 0;
        int[] in = new int[batch * seq];
        int[] out = new int[batch * seq];
        double[] rows = new double[batch];
        for (int k = rank; k < calls; k += size) {
            int w0 = k * batch;
            if (w0 < full) {
                int b = Math.min(batch, full - w0);
                for (int r = 0; r < b; r++) {
                    System.arraycopy(tokens, (w0 + r) * seq, in, r * seq, seq);
                    System.arraycopy(tokens, (w0 + r) * seq + 1, out, r * seq, seq);
                }
                model.evaluateRows(in, out, b, seq, rows);
                System.arraycopy(rows, 0, mine, filled, b);
                filled += b;
            } else {
                int start = full * seq;
                int len = (int) (targets - start);
                int[] t = java.util.Arrays.copyOfRange(tokens, start, start + len);
                int[] y = java.util.Arrays.copyOfRange(tokens, start + 1, start + 1 + len);
                model.evaluateRows(t, y, 1, len, rows);
                mine[filled++] = rows[0];
            }
        }
        double[][] all = size == 1 ? new double[][] {mine} : group.allGather(java.util.Arrays.copyOf(mine, filled));
        double[] losses = new double[windows];
        int[] lengths = new int[windows];
        int[] cursor = new int[size];
        for (int k = 0, w = 0; k < calls; k++) {
            int owner = k % size;
            int b = k * batch < full ? Math.min(batch, full - k * batch) : 1;
            for (int r = 0; r < b; r++, w++) {
                losses[w] = all[owner][cursor[owner]++];
                lengths[w] = w < full ? seq : (int) (targets - (long) full * seq);
            }
        }
        // checked after the gather, so that every replica sees the same failure
        for (int w = 0; w < windows; w++) {
            if (!Double.isFinite(losses[w])) {
                throw new ArithmeticException("loss of window " + w + " (tokens from " + (long) w * seq + ") is " + losses[w]);
            }
        }
        return new WindowLosses(losses, lengths);
    }
}
