package dev.fp4.nn;

/** Token embedding table [vocab, dim]: forward copies rows, backward adds rows into the gradient. */
public final class Embedding {
    private final Parameter table;

    /** A zero table named {@code name}, [vocab, dim]. */
    public Embedding(String name, int vocab, int dim) {
        this.table = new Parameter(name, vocab, dim);
    }

    /** The table. */
    public Parameter table() {
        return table;
    }

    /** out[n] = table[tokens[n]] for n in [0, count); token ids must be valid (checked by the caller). */
    public void forward(int[] tokens, int count, float[] out) {
        int dim = table.shape()[1];
        float[] w = table.data();
        for (int n = 0; n < count; n++) {
            System.arraycopy(w, tokens[n] * dim, out, n * dim, dim);
        }
    }

    /** grad[tokens[n]] += dOut[n]; rows are added in increasing n, so the result is deterministic. */
    public void backward(int[] tokens, int count, float[] dOut) {
        int dim = table.shape()[1];
        float[] g = table.grad();
        for (int n = 0; n < count; n++) {
            int row = tokens[n] * dim;
            VectorOps.add(g, row, dOut, n * dim, g, row, dim);
        }
    }
}
