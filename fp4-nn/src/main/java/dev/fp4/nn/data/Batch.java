package dev.fp4.nn.data;

/**
 * A batch of next-token prediction windows: {@code tokens[b·seq + i]} is the input at position i
 * of row b and {@code targets[b·seq + i]} the token that follows it. Filled in place by a
 * {@link BatchSampler}; the arrays are reused from batch to batch.
 */
public final class Batch {
    private final int batch;
    private final int seq;
    final int[] tokens;
    final int[] targets;

    Batch(int batch, int seq) {
        this.batch = batch;
        this.seq = seq;
        this.tokens = new int[batch * seq];
        this.targets = new int[batch * seq];
    }

    /** Rows. */
    public int batch() {
        return batch;
    }

    /** Positions per row. */
    public int seq() {
        return seq;
    }

    /** Input tokens [batch·seq] (live, reused). */
    public int[] tokens() {
        return tokens;
    }

    /** Target tokens [batch·seq] (live, reused). */
    public int[] targets() {
        return targets;
    }
}
