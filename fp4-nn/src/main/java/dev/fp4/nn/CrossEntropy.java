package dev.fp4.nn;

/**
 * Mean cross-entropy over the rows of logits [rows, vocab] against integer targets, through a
 * numerically stable log-softmax: loss_n = logsumexp(z_n) − z_n[t_n]. The gradient with respect to
 * the logits, (softmax(z_n) − onehot(t_n)) / rows, is produced in the same pass.
 */
public final class CrossEntropy {
    private static final int ROWS_PER_TASK = 16;

    // The arguments of the running evaluation, read by its loop body; the body is bound once (a
    // capturing lambda would allocate at every call).
    private float[] logits;
    private int[] targets;
    private int rows;
    private int vocab;
    private float[] out;
    private boolean gradient;
    private double[] rowLoss;
    private final java.util.function.IntConsumer rowsBody = this::rows;

    /**
     * A reusable evaluator: {@link #evaluate} is {@link #forward(float[], int[], int, int, float[],
     * boolean, double[])} without any allocation per call. Not for concurrent use.
     */
    public CrossEntropy() {
    }

    /**
     * Returns the mean loss. Writes softmax(z) into {@code out} (which may alias {@code logits}),
     * turned into the gradient of the mean loss when {@code gradient} is true.
     *
     * @throws IllegalArgumentException when rows or vocab is not positive, a target is outside
     *                                  [0, vocab) or an array is shorter than its shape (nothing is
     *                                  written then)
     */
    public static float forward(float[] logits, int[] targets, int rows, int vocab, float[] out, boolean gradient) {
        return forward(logits, targets, rows, vocab, out, gradient, new double[rows]);
    }

    /**
     * As {@link #forward(float[], int[], int, int, float[], boolean)}, with a caller-supplied
     * buffer of at least {@code rows} elements for the per-row losses (rows run in parallel; the
     * mean is then summed in row order, so the result does not depend on the thread count).
     */
    public static float forward(float[] logits, int[] targets, int rows, int vocab, float[] out, boolean gradient,
                                double[] rowLoss) {
        return new CrossEntropy().evaluate(logits, targets, rows, vocab, out, gradient, rowLoss);
    }

    /** As {@link #forward(float[], int[], int, int, float[], boolean, double[])}, on this evaluator. */
    public float evaluate(float[] logits, int[] targets, int rows, int vocab, float[] out, boolean gradient,
                          double[] rowLoss) {
        if (rows <= 0 || vocab <= 0) {
            throw new IllegalArgumentException("cross-entropy: rows and vocab must be positive, got " + rows + " and " + vocab);
        }
        Checks.holds("cross-entropy", "logits", logits, rows, vocab);
        Checks.holds("cross-entropy", "out", out, rows, vocab);
        java.util.Objects.requireNonNull(targets, "targets");
        if (targets.length < rows) {
            throw new IllegalArgumentException("cross-entropy: targets has " + targets.length + " elements, need rows = " + rows);
        }
        Checks.ids("cross-entropy", "targets", targets, rows, vocab);
        if (rowLoss.length < rows) {
            throw new IllegalArgumentException("rowLoss needs " + rows + " elements, got " + rowLoss.length);
        }
        this.logits = logits;
        this.targets = targets;
        this.rows = rows;
        this.vocab = vocab;
        this.out = out;
        this.gradient = gradient;
        this.rowLoss = rowLoss;
        Parallel.forEach((rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK, rowsBody);
        double total = 0;
        for (int n = 0; n < rows; n++) {
            total += rowLoss[n];
        }
        return (float) (total / rows);
    }

    /** The rows of chunk c of the running evaluation. */
    private void rows(int c) {
        float inv = 1f / rows;
        for (int n = c * ROWS_PER_TASK, end = Math.min(rows, n + ROWS_PER_TASK); n < end; n++) {
            int off = n * vocab;
            int t = targets[n];
            float zt = logits[off + t];
            float lse = Softmax.forward(logits, off, out, off, vocab, 1f);
            if (gradient) {
                VectorOps.scale(out, off, vocab, inv);
                out[off + t] -= inv;
            }
            rowLoss[n] = (double) lse - zt;
        }
    }
}
