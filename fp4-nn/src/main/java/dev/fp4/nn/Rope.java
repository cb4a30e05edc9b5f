package dev.fp4.nn;

import dev.fp4.core.simd.Simd;

/**
 * Rotary position embedding in the half-split layout (GPT-NeoX / Hugging Face LLaMA): within each
 * head of width d, element i and element i + d/2 form a pair rotated by the angle
 * pos · θ^(−2i/d), i in [0, d/2).
 *
 * <p>Forward: (a, b) → (a·cos − b·sin, a·sin + b·cos). Backward applies the transposed rotation
 * (the inverse) to the gradient: (da, db) → (da·cos + db·sin, db·cos − da·sin).
 *
 * <p>Not for concurrent use: a call keeps its arguments in fields for its parallel loop bodies,
 * which are bound once so that a call allocates nothing (one model steps on one thread).
 */
public final class Rope {

    /** Rows per parallel task (rows are independent, so the split does not change results). */
    private static final int ROWS_PER_TASK = 64;

    private final int headDim;
    private final int half;
    private final int maxSeq;
    private final float[] cos;
    private final float[] sin;

    /** Tables for positions [0, maxSeq) and heads of width {@code headDim} (even). */
    public Rope(int headDim, int maxSeq, double theta) {
        if (headDim <= 0 || headDim % 2 != 0) {
            throw new IllegalArgumentException("head dimension must be even and positive, got " + headDim);
        }
        this.headDim = headDim;
        this.half = headDim / 2;
        this.maxSeq = maxSeq;
        this.cos = new float[maxSeq * half];
        this.sin = new float[maxSeq * half];
        for (int p = 0; p < maxSeq; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * StrictMath.pow(theta, -2.0 * i / headDim);   // StrictMath: the same table on every platform
                cos[p * half + i] = (float) StrictMath.cos(angle);
                sin[p * half + i] = (float) StrictMath.sin(angle);
            }
        }
    }

    /**
     * Rotates, in place, every head of every row of x [batch·seq, heads·headDim] (row n has
     * position n mod seq); {@code inverse} applies the backward rotation.
     *
     * @throws IllegalArgumentException when seq exceeds maxSeq, rows is not a positive multiple of
     *                                  seq, or x is shorter than [rows, heads·headDim]
     */
    public void apply(float[] x, int rows, int seq, int heads, boolean inverse) {
        if (seq > maxSeq) {
            throw new IllegalArgumentException("sequence length " + seq + " exceeds maxSeq " + maxSeq);
        }
        if (rows <= 0 || seq <= 0 || heads <= 0) {
            throw new IllegalArgumentException("rope: rows, seq and heads must be positive, got " + rows + ", " + seq + ", " + heads);
        }
        if (rows % seq != 0) {
            throw new IllegalArgumentException("rope: rows " + rows + " must be a multiple of seq " + seq + " (rows are batch·seq)");
        }
        int width = heads * headDim;
        Checks.holds("rope", "x", x, rows, width);
        int chunks = (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        this.x = x;
        this.rows = rows;
        this.seq = seq;
        this.heads = heads;
        this.inverse = inverse;
        Parallel.forEach(chunks, rotateRows);
    }

    /**
     * Rotates, in place, every head of the rows of x [rows, heads·headDim] taken as consecutive
     * positions {@code first, first + 1, ...} (a generation step whose earlier positions are cached);
     * the same values {@link #apply} gives those positions. Runs on the calling thread.
     *
     * @throws IllegalArgumentException when a position reaches maxSeq or x is shorter than the rows
     */
    public void applyAt(float[] x, int rows, int heads, int first) {
        if (first < 0 || rows <= 0 || heads <= 0 || (long) first + rows > maxSeq) {
            throw new IllegalArgumentException("rope: positions [" + first + ", " + ((long) first + rows) + ") of " + heads
                    + " heads are outside [0, maxSeq = " + maxSeq + ")");
        }
        int width = heads * headDim;
        Checks.holds("rope", "x", x, rows, width);
        for (int n = 0; n < rows; n++) {
            int tab = (first + n) * half;
            for (int h = 0; h < heads; h++) {
                rotate(x, n * width + h * headDim, cos, sin, tab, half, false);
            }
        }
    }

    // The arguments of the running apply, read by its loop body; the body is bound once (a
    // capturing lambda would allocate at every call).
    private float[] x;
    private int rows;
    private int seq;
    private int heads;
    private boolean inverse;
    private final java.util.function.IntConsumer rotateRows = this::rotateRows;

    /** The rows of chunk c of the running apply. */
    private void rotateRows(int c) {
        int width = heads * headDim;
        for (int n = c * ROWS_PER_TASK, end = Math.min(rows, n + ROWS_PER_TASK); n < end; n++) {
            int tab = (n % seq) * half;
            for (int h = 0; h < heads; h++) {
                rotate(x, n * width + h * headDim, cos, sin, tab, half, inverse);
            }
        }
    }

    /** Rotates one head x[off, off + 2·half) with table row cos/sin[tab, tab + half). */
    public static void rotate(float[] x, int off, float[] cos, float[] sin, int tab, int half, boolean inverse) {
        if (Simd.ENABLED) {
            RopePanama.rotateVector(x, off, cos, sin, tab, half, inverse);
        } else {
            rotateScalar(x, off, cos, sin, tab, half, inverse);
        }
    }

    static void rotateScalar(float[] x, int off, float[] cos, float[] sin, int tab, int half, boolean inverse) {
        for (int i = 0; i < half; i++) {
            rotatePair(x, off + i, off + half + i, cos[tab + i], sin[tab + i], inverse);
        }
    }

    static void rotatePair(float[] x, int ia, int ib, float c, float s, boolean inverse) {
        float a = x[ia];
        float b = x[ib];
        if (inverse) {
            x[ia] = a * c + b * s;
            x[ib] = b * c - a * s;
        } else {
            x[ia] = a * c - b * s;
            x[ib] = a * s + b * c;
        }
    }

    /** cos table, [maxSeq, headDim/2] (live; for tests). */
    float[] cosTable() {
        return cos;
    }

    /** sin table, [maxSeq, headDim/2] (live; for tests). */
    float[] sinTable() {
        return sin;
    }
}
