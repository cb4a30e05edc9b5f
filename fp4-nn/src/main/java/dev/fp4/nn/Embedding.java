package dev.fp4.nn;

/** Token embedding table [vocab, dim]: forward copies rows, backward adds rows into the gradient. */
public final class Embedding {
    private static final int ROWS_PER_TASK = 64;
    private static final int COLS_PER_TASK = 64;

    private final Parameter table;

    /** A zero table named {@code name}, [vocab, dim]. */
    public Embedding(String name, int vocab, int dim) {
        this.table = new Parameter(name, vocab, dim);
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
        int dim = table.shape()[1];
        Checks.ids(table.name(), "tokens", tokens, count, table.shape()[0]);
        Checks.holds(table.name(), "out", out, count, dim);
        float[] w = table.data();
        Parallel.forEach((count + ROWS_PER_TASK - 1) / ROWS_PER_TASK, c -> {
            for (int n = c * ROWS_PER_TASK, end = Math.min(count, n + ROWS_PER_TASK); n < end; n++) {
                System.arraycopy(w, tokens[n] * dim, out, n * dim, dim);
            }
        });
    }

    /**
     * grad[tokens[n]] += dOut[n]; rows are added in increasing n, so the result is deterministic.
     *
     * @throws IllegalArgumentException as {@link #forward} (the gradient is unchanged then)
     */
    public void backward(int[] tokens, int count, float[] dOut) {
        int dim = table.shape()[1];
        Checks.ids(table.name(), "tokens", tokens, count, table.shape()[0]);
        Checks.holds(table.name(), "dOut", dOut, count, dim);
        float[] g = table.grad();
        // Split over column ranges: every element still receives its rows in increasing n.
        Parallel.forEach((dim + COLS_PER_TASK - 1) / COLS_PER_TASK, c -> {
            int c0 = c * COLS_PER_TASK;
            int len = Math.min(COLS_PER_TASK, dim - c0);
            for (int n = 0; n < count; n++) {
                int row = tokens[n] * dim + c0;
                VectorOps.add(g, row, dOut, n * dim + c0, g, row, len);
            }
        });
    }
}
