package dev.fp4.nn;

import dev.fp4.core.simd.Simd;

/**
 * Root-mean-square normalisation: y = x · r · w with r = 1 / sqrt(mean(x²) + eps), per row of
 * [rows, dim].
 *
 * <p>Backward, with g = dy ⊙ w: dx = r·g − x · r³ · (g·x) / dim and dw += dy ⊙ x · r.
 *
 * <p>Not for concurrent use: a call keeps its arguments in fields for its parallel loop bodies,
 * which are bound once so that a call allocates nothing (one model steps on one thread).
 */
public final class RMSNorm {

    private static final int ROWS_PER_TASK = 32;
    private static final int COLS_PER_TASK = 32;

    private final Parameter weight;
    private final float eps;

    // The arguments of the running forward or backward, read by its loop bodies; the bodies are
    // bound once (a capturing lambda would allocate at every call).
    private float[] x;
    private float[] y;
    private float[] inv;
    private int invOff;
    private float[] dy;
    private float[] dx;
    private int rows;
    private final java.util.function.IntConsumer forwardRows = this::forwardRows;
    private final java.util.function.IntConsumer backwardRows = this::backwardRows;
    private final java.util.function.IntConsumer weightGradientColumns = this::weightGradientColumns;

    /**
     * A norm over {@code dim} features with weights initialised to one.
     *
     * @throws IllegalArgumentException when dim is not positive or eps is not positive and finite
     */
    public RMSNorm(String name, int dim, float eps) {
        if (!(eps > 0) || !Float.isFinite(eps)) {
            throw new IllegalArgumentException(name + ": eps must be positive and finite, got " + eps);
        }
        this.weight = new Parameter(name, dim);
        java.util.Arrays.fill(weight.data(), 1f);
        this.eps = eps;
    }

    /** The gain vector. */
    public Parameter weight() {
        return weight;
    }

    /**
     * Normalises {@code rows} rows of x into y and stores each row's r in {@code inv[invOff + row]}.
     *
     * @throws IllegalArgumentException when rows is not positive or x, y [rows, dim] or
     *                                  inv[invOff, invOff + rows) do not fit (nothing is written then)
     */
    public void forward(float[] x, float[] y, float[] inv, int invOff, int rows) {
        int dim = weight.size();
        String owner = weight.name();
        Checks.positiveRows(owner, rows);
        Checks.holds(owner, "x", x, rows, dim);
        Checks.holds(owner, "y", y, rows, dim);
        Checks.range(owner, "inv", inv, invOff, rows);
        bind(x, y, inv, invOff, null, null, rows);
        Parallel.forEach(chunks(rows), forwardRows);
    }

    private void bind(float[] x, float[] y, float[] inv, int invOff, float[] dy, float[] dx, int rows) {
        this.x = x;
        this.y = y;
        this.inv = inv;
        this.invOff = invOff;
        this.dy = dy;
        this.dx = dx;
        this.rows = rows;
    }

    /** Rows of chunk c of the running forward. */
    private void forwardRows(int c) {
        int dim = weight.size();
        float[] w = weight.data();
        for (int r = c * ROWS_PER_TASK, end = Math.min(rows, r + ROWS_PER_TASK); r < end; r++) {
            inv[invOff + r] = forwardRow(x, r * dim, w, y, r * dim, dim, eps);
        }
    }

    /** dx of the rows of chunk c of the running backward. */
    private void backwardRows(int c) {
        int dim = weight.size();
        float[] w = weight.data();
        for (int r = c * ROWS_PER_TASK, end = Math.min(rows, r + ROWS_PER_TASK); r < end; r++) {
            backwardRowDx(x, r * dim, w, inv[invOff + r], dy, r * dim, dx, r * dim, dim, true);
        }
    }

    /** dw of the columns of chunk c of the running backward. */
    private void weightGradientColumns(int c) {
        int dim = weight.size();
        int c0 = c * COLS_PER_TASK;
        weightGradient(x, inv, invOff, dy, weight.grad(), rows, dim, c0, Math.min(dim, c0 + COLS_PER_TASK));
    }

    private static int chunks(int rows) {
        return (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    }

    /**
     * Adds dx into {@code dx} (so the residual stream's gradient can be passed directly) and dw into
     * the weight's gradient.
     *
     * @throws IllegalArgumentException when rows is not positive or an array is shorter than its
     *                                  shape (nothing is written then)
     */
    public void backward(float[] x, float[] inv, int invOff, float[] dy, float[] dx, int rows) {
        int dim = weight.size();
        String owner = weight.name();
        Checks.positiveRows(owner, rows);
        Checks.holds(owner, "x", x, rows, dim);
        Checks.holds(owner, "dy", dy, rows, dim);
        Checks.holds(owner, "dx", dx, rows, dim);
        Checks.range(owner, "inv", inv, invOff, rows);
        // dx row by row; dw by column ranges, each summing over the rows in increasing order (the
        // order of the sequential loop, so the split does not change a bit).
        bind(x, null, inv, invOff, dy, dx, rows);
        Parallel.forEach(chunks(rows), backwardRows);
        Parallel.forEach((dim + COLS_PER_TASK - 1) / COLS_PER_TASK, weightGradientColumns);
    }

    /**
     * dw[c] += dy[r, c]·(x[r, c]·inv[r]) for c in [c0, c1), over r = 0..rows−1 in increasing order
     * (one rounded product and one rounded add per term, as {@link #backwardRow}).
     */
    static void weightGradient(float[] x, float[] inv, int invOff, float[] dy, float[] dw, int rows, int dim,
                               int c0, int c1) {
        int c = Simd.ENABLED ? RMSNormPanama.weightGradientVector(x, inv, invOff, dy, dw, rows, dim, c0, c1) : c0;
        for (; c < c1; c++) {
            float acc = dw[c];
            for (int r = 0; r < rows; r++) {
                int o = r * dim + c;
                acc = acc + dy[o] * (x[o] * inv[invOff + r]);
            }
            dw[c] = acc;
        }
    }

    /** {@link #backwardRow} without the weight gradient: dx only. */
    static void backwardRowDx(float[] x, int xOff, float[] w, float r, float[] dy, int dyOff,
                              float[] dx, int dxOff, int dim, boolean accumulate) {
        float gx = Simd.ENABLED ? RMSNormPanama.dot3Vector(dy, dyOff, w, x, xOff, dim) : VectorOps.dot3Scalar(dy, dyOff, w, 0, x, xOff, dim);
        float c = r * r * r * gx / dim;
        int i = Simd.ENABLED ? RMSNormPanama.backwardRowDxVector(x, xOff, w, r, c, dy, dyOff, dx, dxOff, dim, accumulate) : 0;
        for (; i < dim; i++) {
            float d = dy[dyOff + i] * w[i] * r - x[xOff + i] * c;
            dx[dxOff + i] = accumulate ? dx[dxOff + i] + d : d;
        }
    }

    /** One row: y = x · r · w; returns r. */
    public static float forwardRow(float[] x, int xOff, float[] w, float[] y, int yOff, int dim, float eps) {
        float ms = VectorOps.sumSquares(x, xOff, dim) / dim;
        float r = (float) (1.0 / Math.sqrt(ms + eps));
        if (Simd.ENABLED) {
            RMSNormPanama.scaleVector(x, xOff, w, r, y, yOff, dim);
        } else {
            scaleScalar(x, xOff, w, r, y, yOff, dim);
        }
        return r;
    }

    static void scaleScalar(float[] x, int xOff, float[] w, float r, float[] y, int yOff, int dim) {
        for (int i = 0; i < dim; i++) {
            y[yOff + i] = x[xOff + i] * r * w[i];
        }
    }

    /**
     * One row of the backward pass; dx is written, or added to when {@code accumulate}; dw is
     * always added to.
     */
    public static void backwardRow(float[] x, int xOff, float[] w, float r, float[] dy, int dyOff,
                                   float[] dx, int dxOff, float[] dw, int dim, boolean accumulate) {
        if (Simd.ENABLED) {
            RMSNormPanama.backwardRowVector(x, xOff, w, r, dy, dyOff, dx, dxOff, dw, dim, accumulate);
        } else {
            backwardRowScalar(x, xOff, w, r, dy, dyOff, dx, dxOff, dw, dim, accumulate);
        }
    }

    static void backwardRowScalar(float[] x, int xOff, float[] w, float r, float[] dy, int dyOff,
                                  float[] dx, int dxOff, float[] dw, int dim, boolean accumulate) {
        float gx = VectorOps.dot3Scalar(dy, dyOff, w, 0, x, xOff, dim);
        float c = r * r * r * gx / dim;
        for (int i = 0; i < dim; i++) {
            float xi = x[xOff + i];
            float dyi = dy[dyOff + i];
            float d = dyi * w[i] * r - xi * c;
            dx[dxOff + i] = accumulate ? dx[dxOff + i] + d : d;
            dw[i] = dw[i] + dyi * (xi * r);
        }
    }
}
