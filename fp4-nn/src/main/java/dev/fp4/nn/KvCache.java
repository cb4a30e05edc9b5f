package dev.fp4.nn;

/**
 * The keys (after RoPE) and values of the positions an {@link InferenceModel} has run, per layer,
 * so that a generation step computes only its new token. Holds up to {@code maxSeq} positions:
 * {@code keys[l][p·kvDim + c]}.
 */
public final class KvCache {
    final float[][] keys;
    final float[][] values;
    private final int capacity;
    private int length;

    KvCache(LlamaConfig c) {
        this.capacity = c.maxSeq();
        this.keys = new float[c.layers()][capacity * c.kvDim()];
        this.values = new float[c.layers()][capacity * c.kvDim()];
    }

    /** Positions held. */
    public int length() {
        return length;
    }

    /** Most positions it can hold (the model's maxSeq). */
    public int capacity() {
        return capacity;
    }

    /** Forgets every position (the arrays are kept). */
    public void clear() {
        length = 0;
    }

    void advance(int n) {
        length += n;
    }
}
