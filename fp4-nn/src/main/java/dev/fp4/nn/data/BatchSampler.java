package dev.fp4.nn.data;

/**
 * Draws random windows of seq + 1 consecutive tokens from one split. Counter-based: the window of
 * row r in batch k starts at a position computed from (seed, k·batch + r) alone, so the stream
 * can be repositioned exactly ({@link #seek}) — a checkpoint stores the seed and
 * {@link #position()}.
 *
 * <p>Start positions are uniform on [0, n − seq − 1] up to a bias below 2^-32 (a 64-bit mix
 * reduced by multiply-high).
 */
public final class BatchSampler {
    private final int[] data;
    private final int off;
    private final int len;
    private final long seed;
    private final Batch batch;
    private long position;

    BatchSampler(int[] data, int off, int len, int batch, int seq, long seed) {
        this.data = data;
        this.off = off;
        this.len = len;
        this.seed = seed;
        this.batch = new Batch(batch, seq);
    }

    /** The seed. */
    public long seed() {
        return seed;
    }

    /** Number of batches drawn so far (the index of the next one). */
    public long position() {
        return position;
    }

    /** Sets the index of the next batch. */
    public void seek(long batchIndex) {
        if (batchIndex < 0) {
            throw new IllegalArgumentException("negative batch index " + batchIndex);
        }
        position = batchIndex;
    }

    /** SplitMix64's finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** Start of window {@code index} (row index over the whole stream). */
    int start(long index) {
        long range = (long) len - batch.seq();          // number of valid starts: len - (seq + 1) + 1
        long h = mix(mix(seed) + (index + 1) * 0x9e3779b97f4a7c15L);
        return (int) Math.unsignedMultiplyHigh(h, range);
    }

    /** Fills and returns the (reused) batch for the current position, then advances. */
    public Batch next() {
        int b = batch.batch();
        int seq = batch.seq();
        for (int r = 0; r < b; r++) {
            int s = off + start(position * b + r);
            int base = r * seq;
            for (int i = 0; i < seq; i++) {
                batch.tokens[base + i] = data[s + i];
                batch.targets[base + i] = data[s + i + 1];
            }
        }
        position++;
        return batch;
    }
}
