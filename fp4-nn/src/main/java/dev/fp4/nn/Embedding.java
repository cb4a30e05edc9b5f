package dev.fp4.nn;

/**
 * Token embedding table [vocab, dim]: forward copies rows, backward adds rows into the gradient.
 *
 * <p>Not for concurrent use: a call keeps its arguments in fields for its parallel loop bodies,
 * which are bound once so that a call allocates nothing (one model steps on one thread).
 */
public final class Embedding {
    private static final int ROWS_PER_TASK = 64;
    private static final int COLS_PER_TASK = 64;

    private final Parameter table;
    private final int vocab;
    private final int dim;

    /** A zero table named {@code name}, [vocab, dim]. */
    public Embedding(String name, int vocab, int dim) {
        this.table = new Parameter(name, vocab, dim);
        this.vocab = vocab;
        this.dim = dim;
    }

    /** The table. */
    public Parameter table() {
        return table;
    }

    /**
     * out[n] = table[tokens[n]] for n in [0, count).
     *
     * @throws IllegalArgumentException for a token id outside [0, vocab), count beyond tokens, or
     *                                  out shorter than [count, dim] (nothing is written then)
     */
    public void forward(int[] tokens, int count, float[] out) {
        Checks.ids(table.name(), "tokens", tokens, count, vocab);
        Checks.holds(table.name(), "out", out, count, dim);
        bind(tokens, count, out);
        Parallel.forEach((count + ROWS_PER_TASK - 1) / ROWS_PER_TASK, lookupRows);
    }

    // The arguments of the running forward or backward, read by its loop bodies; the bodies are
    // bound once (a capturing lambda would allocate at every call).
    private int[] tokens;
    private int count;
    private float[] rowsArg;
    private final java.util.function.IntConsumer lookupRows = this::lookupRows;
    private final java.util.function.IntConsumer gradientColumns = this::gradientColumns;

    private void bind(int[] tokens, int count, float[] rows) {
        this.tokens = tokens;
        this.count = count;
        this.rowsArg = rows;
    }

    /** out rows of chunk c of the running forward ({@code rowsArg} is out). */
    private void lookupRows(int c) {
        float[] w = table.data();
        for (int n = c * ROWS_PER_TASK, end = Math.min(count, n + ROWS_PER_TASK); n < end; n++) {
            System.arraycopy(w, tokens[n] * dim, rowsArg, n * dim, dim);
        }
    }

    /** Gradient columns of chunk c of the running backward ({@code rowsArg} is dOut). */
    private void gradientColumns(int c) {
        float[] g = table.grad();
        int c0 = c * COLS_PER_TASK;
        int len = Math.min(COLS_PER_TASK, dim - c0);
        for (int n = 0; n < count; n++) {
            int row = tokens[n] * dim + c0;
            VectorOps.add(g, row, rowsArg, n * dim + c0, g, row, len);
        }
    }

    /**
     * grad[tokens[n]] += dOut[n]; rows are added in increasing n, so the result is deterministic.
     *
     * @throws IllegalArgumentException as {@link #forward} (the gradient is unchanged then)
     */
    public void backward(int[] tokens, int count, float[] dOut) {
        Checks.ids(table.name(), "tokens", tokens, count, vocab);
        Checks.holds(table.name(), "dOut", dOut, count, dim);
        // Split over column ranges: every element still receives its rows in increasing n.
        bind(tokens, count, dOut);
        Parallel.forEach((dim + COLS_PER_TASK - 1) / COLS_PER_TASK, gradientColumns);
    }
}
