package dev.fp4.core.quant;

import java.util.Objects;

/**
 * Outlier clamping of activations before FP4 quantization (Wang et al. 2025, official
 * implementation's signed quantile rule), with the sparse residual for compensation.
 *
 * <p>For each group of n values (the whole tensor, each row = token-wise, or each column =
 * channel-wise of a row-major [rows, cols] matrix), with the values in ascending order s:
 * <pre>
 *   lower = s[⌊(1 − α)·n⌋],  upper = s[min(⌊α·n⌋, n − 1)],  X_c = clamp(X, lower, upper)
 * </pre>
 * The quantiles are SIGNED (of X, not |X|). The indices are computed in double and truncated, as the
 * official code does: for α = 0.99, n = 4096 they are 40 and 4055; for n = 100, 1 and 99 (since
 * 0.99·100 rounds to 99.0 in double: nothing is clamped above). α = 1 would index s[n]; it is
 * capped to n − 1 (the maximum), so α = 1 clamps nothing.
 *
 * <p>The two order statistics are found by selection, never by sorting a group: a quickselect that
 * keeps only the side of a pivot holding the wanted rank (a vectorized count of keys below/equal to
 * the pivot, then a compaction), with a deterministic pivot (median of 3, or Tukey's ninther from 64
 * keys on) and, after 3 steps that keep more than 3/4 of the range, the median of medians of 5 as
 * pivot, which bounds the work by O(n) whatever the input. The values equal those of
 * {@link java.util.Arrays#sort(float[])}: selection runs on integer keys in Arrays.sort's total order
 * (−0 before +0). Clamping compares numerically (IEEE), so a value equal to a bound (−0 against a
 * +0 bound, say) is left as it is.
 *
 * <p>Residual: ΔX = X − X_c is non-zero exactly at the clamped elements (≈ 2(1 − α) of them); it is
 * stored in a {@link CsrMatrix} for the compensation GeMM Y = Q(X_c)·Q(W)ᵀ + ΔX·Wᵀ. Each residual
 * is the FP32 difference x − bound, correctly rounded; X_c + ΔX reproduces x exactly whenever that
 * difference is representable (for instance whenever the outlier is at most twice its bound, by
 * Sterbenz's lemma); otherwise the exact sum X_c + ΔX is within half an ulp of ΔX from x (FP32 cannot
 * always hold the exact difference of a large outlier and a small bound, e.g. x = 50.36285,
 * bound 0.39736748).
 *
 * <p>Non-finite input is rejected ({@link IllegalArgumentException} naming row and column) before
 * anything is written.
 *
 * <p>Buffers: the instance keeps its scratch arrays (sized on first use, grown only for larger
 * shapes), so a training step allocates nothing once shapes are stable. An instance is therefore
 * NOT thread-safe: use one per thread.
 */
public final class OutlierClamp {

    /** How the values are grouped for the quantiles. */
    public enum Granularity {
        /** One pair of bounds for the whole tensor. */
        PER_TENSOR,
        /** One pair per row (token-wise for activations [tokens, features]; the official Megatron path). */
        PER_ROW,
        /** One pair per column (channel-wise). */
        PER_COLUMN
    }

    /** The paper's α. */
    public static final double DEFAULT_ALPHA = 0.99;

    /** Ranges of at most this many keys are finished by insertion sort. */
    private static final int SMALL = 16;

    /** Steps keeping more than 3/4 of the range tolerated before switching to median-of-medians pivots. */
    static final int BAD_STEP_BUDGET = 3;

    private final double alpha;
    private final Granularity granularity;

    private int[] work = new int[0];
    private float[] lowerBuf = new float[0];
    private float[] upperBuf = new float[0];

    /** α = 0.99, per row (token-wise). */
    public OutlierClamp() {
        this(DEFAULT_ALPHA, Granularity.PER_ROW);
    }

    /**
     * @param alpha       quantile in (0.5, 1] (the paper uses 0.99; ablations 0.999 and 0.97)
     * @param granularity grouping of the quantiles
     */
    public OutlierClamp(double alpha, Granularity granularity) {
        if (!(alpha > 0.5 && alpha <= 1.0)) {
            throw new IllegalArgumentException("alpha must be in (0.5, 1], got " + alpha);
        }
        this.alpha = alpha;
        this.granularity = Objects.requireNonNull(granularity, "granularity");
    }

    /** The quantile α. */
    public double alpha() {
        return alpha;
    }

    /** The grouping. */
    public Granularity granularity() {
        return granularity;
    }

    /** ⌊(1 − α)·n⌋, computed in double and truncated. */
    public static int lowerIndex(int n, double alpha) {
        return (int) ((1.0 - alpha) * n);
    }

    /** min(⌊α·n⌋, n − 1), computed in double and truncated. */
    public static int upperIndex(int n, double alpha) {
        return Math.min((int) (alpha * n), n - 1);
    }

    /** Number of groups (and of bounds) for a [rows, cols] matrix: 1, rows or cols. */
    public int groups(int rows, int cols) {
        return switch (granularity) {
            case PER_TENSOR -> 1;
            case PER_ROW -> rows;
            case PER_COLUMN -> cols;
        };
    }

    /**
     * The most elements a clamp of a [rows, cols] matrix can change: per group, at most
     * lowerIndex values lie strictly below s[lowerIndex] and n − 1 − upperIndex strictly above
     * s[upperIndex]. The residual's capacity is grown to this before clamping.
     */
    public long maxClamped(int rows, int cols) {
        checkShape(rows, cols);
        long size = (long) rows * cols;
        if (size == 0) {
            return 0;
        }
        int n = switch (granularity) {
            case PER_TENSOR -> (int) size;
            case PER_ROW -> cols;
            case PER_COLUMN -> rows;
        };
        return (long) groups(rows, cols) * (lowerIndex(n, alpha) + (n - 1 - upperIndex(n, alpha)));
    }

    /**
     * Computes the clamp bounds of every group of the row-major [rows, cols] matrix at {@code x[off]}
     * into lower[lOff ..] and upper[uOff ..] ({@link #groups} entries each).
     *
     * @throws IllegalArgumentException for a non-finite element (naming it), an empty group or
     *                                  arrays too short
     */
    public void bounds(float[] x, int off, int rows, int cols, float[] lower, int lOff, float[] upper, int uOff) {
        checkShape(rows, cols);
        checkArray(x, off, (long) rows * cols, "x [" + rows + ", " + cols + "]");
        int g = groups(rows, cols);
        checkArray(lower, lOff, g, "lower (" + g + " groups)");
        checkArray(upper, uOff, g, "upper (" + g + " groups)");
        if (g > 0 && (long) rows * cols == 0) {
            throw new IllegalArgumentException("empty groups: [" + rows + ", " + cols + "] " + granularity);
        }
        computeBounds(x, off, rows, cols, lower, lOff, upper, uOff);
    }

    /**
     * Clamps the row-major [rows, cols] matrix at {@code x[xOff]} into {@code out[oOff]} (which may be
     * {@code x} at the same offset: in place) and, if {@code residual} is not null, resets it to
     * [rows, cols] and fills it with ΔX = X − X_c (only the non-zeros). Allocates nothing once the
     * scratch and the residual's capacity are large enough.
     *
     * @return the number of clamped elements (= residual.nnz()); density = count / (rows·cols)
     * @throws IllegalArgumentException for a non-finite element (naming row and column; nothing is
     *                                  written), bad shapes, or out overlapping x at another offset
     */
    public int clamp(float[] x, int xOff, int rows, int cols, float[] out, int oOff, CsrMatrix residual) {
        checkShape(rows, cols);
        long size = (long) rows * cols;
        checkArray(x, xOff, size, "x [" + rows + ", " + cols + "]");
        checkArray(out, oOff, size, "out [" + rows + ", " + cols + "]");
        if (out == x && oOff != xOff && Math.abs((long) oOff - xOff) < size) {
            throw new IllegalArgumentException("out overlaps x at a different offset (" + oOff + " vs " + xOff
                    + "); clamp in place with equal offsets or into a separate range");
        }
        if (size == 0) {
            if (residual != null) {
                residual.reset(rows, cols);
                for (int r = 0; r < rows; r++) {
                    residual.endRow();
                }
            }
            return 0;
        }
        int g = groups(rows, cols);
        if (lowerBuf.length < g) {
            lowerBuf = new float[g];
            upperBuf = new float[g];
        }
        // Phase 1 reads (and validates) everything; phase 2 writes.
        computeBounds(x, xOff, rows, cols, lowerBuf, 0, upperBuf, 0);
        int[] nzCol = null;
        float[] nzVal = null;
        if (residual != null) {
            residual.reset(rows, cols);
            residual.ensureCapacity((int) Math.min(maxClamped(rows, cols), Integer.MAX_VALUE - 8));
            nzCol = residual.colIdx();
            nzVal = residual.values();
        }
        int total = 0;
        for (int r = 0; r < rows; r++) {
            int xr = xOff + r * cols;
            int or = oOff + r * cols;
            int nzOff = residual == null ? 0 : residual.nnz();
            int count = switch (granularity) {
                case PER_TENSOR -> ClampKernels.clamp(x, xr, out, or, cols, lowerBuf[0], upperBuf[0],
                        nzCol, nzVal, nzOff);
                case PER_ROW -> ClampKernels.clamp(x, xr, out, or, cols, lowerBuf[r], upperBuf[r],
                        nzCol, nzVal, nzOff);
                case PER_COLUMN -> ClampKernels.clampBounds(x, xr, out, or, cols, lowerBuf, upperBuf, 0,
                        nzCol, nzVal, nzOff);
            };
            if (residual != null) {
                residual.commitRow(count);
            }
            total += count;
        }
        return total;
    }

    /** In place, without residual. */
    public int clamp(float[] x, int off, int rows, int cols) {
        return clamp(x, off, rows, cols, x, off, null);
    }

    private void computeBounds(float[] x, int off, int rows, int cols, float[] lower, int lOff,
                               float[] upper, int uOff) {
        switch (granularity) {
            case PER_TENSOR -> {
                int n = rows * cols;
                if (n > 0) {
                    groupBounds(x, off, off, 1, n, cols, lower, lOff, upper, uOff);
                }
            }
            case PER_ROW -> {
                for (int r = 0; r < rows; r++) {
                    groupBounds(x, off, off + r * cols, 1, cols, cols, lower, lOff + r, upper, uOff + r);
                }
            }
            case PER_COLUMN -> {
                for (int c = 0; c < cols; c++) {
                    groupBounds(x, off, off + c, cols, rows, cols, lower, lOff + c, upper, uOff + c);
                }
            }
        }
    }

    /** Bounds of the n values x[off + i·stride] of the matrix at x[base] with rows of {@code cols}. */
    private void groupBounds(float[] x, int base, int off, int stride, int n, int cols, float[] lower, int lOff,
                             float[] upper, int uOff) {
        int need = n + n / 4 + SMALL;
        if (work.length < need) {
            work = new int[need];
        }
        int lo = lowerIndex(n, alpha);
        int hi = upperIndex(n, alpha);
        loadKeys(x, base, off, stride, n, cols);
        upper[uOff] = ClampKernels.fromKey(select(work, 0, n, hi, n, BAD_STEP_BUDGET));
        loadKeys(x, base, off, stride, n, cols); // selection consumed the keys
        lower[lOff] = ClampKernels.fromKey(select(work, 0, n, lo, n, BAD_STEP_BUDGET));
    }

    private void loadKeys(float[] x, int base, int off, int stride, int n, int cols) {
        int bad = stride == 1
                ? ClampKernels.toKeys(x, off, n, work, 0)
                : ClampKernels.toKeysStrided(x, off, stride, n, work, 0);
        if (bad >= 0) {
            int flat = off + bad * stride; // index into x
            int rel = flat - base;
            throw new IllegalArgumentException("non-finite input " + x[flat] + " at [" + rel / cols + ", "
                    + rel % cols + "] (array index " + flat + "); outlier clamping needs finite values");
        }
    }

    // ---- selection -------------------------------------------------------------------------------

    /**
     * The key of rank {@code rank} (0-based, ascending) among a[from, to). Destroys the order and
     * contents of a[from, to); uses a[scratch, scratch + (to − from)/4 + 16) for median-of-medians
     * pivots. After more than {@code badBudget} steps that keep over 3/4 of the range, every pivot is
     * the median of medians (badBudget −1: always; tests use it to exercise that path).
     */
    static int select(int[] a, int from, int to, int rank, int scratch, int badBudget) {
        if (rank < 0 || rank >= to - from) {
            throw new IllegalArgumentException("rank " + rank + " outside [0, " + (to - from) + ")");
        }
        int bad = 0;
        while (true) {
            int m = to - from;
            if (m <= SMALL) {
                insertionSort(a, from, to);
                return a[from + rank];
            }
            int pivot = bad > badBudget ? medianOfMedians(a, from, to, scratch, badBudget) : ninther(a, from, to);
            long counts = ClampKernels.countLessEqual(a, from, to, pivot);
            int less = (int) (counts >>> 32);
            int equal = (int) counts;
            int kept;
            if (rank < less) {
                kept = keepLess(a, from, to, pivot) - from;
            } else if (rank < less + equal) {
                return pivot;
            } else {
                kept = keepGreater(a, from, to, pivot) - from;
                rank -= less + equal;
            }
            to = from + kept;
            if (4L * kept > 3L * m) {
                bad++;
            }
        }
    }

    /** Compacts the keys &lt; p to the front of a[from, to) (in order); returns the end. */
    private static int keepLess(int[] a, int from, int to, int p) {
        int w = from;
        for (int i = from; i < to; i++) {
            int v = a[i];
            a[w] = v; // w <= i: only overwrites keys already read
            w += v < p ? 1 : 0;
        }
        return w;
    }

    /** Compacts the keys &gt; p to the front of a[from, to); returns the end. */
    private static int keepGreater(int[] a, int from, int to, int p) {
        int w = from;
        for (int i = from; i < to; i++) {
            int v = a[i];
            a[w] = v;
            w += v > p ? 1 : 0;
        }
        return w;
    }

    private static void insertionSort(int[] a, int from, int to) {
        for (int i = from + 1; i < to; i++) {
            int v = a[i];
            int j = i - 1;
            while (j >= from && a[j] > v) {
                a[j + 1] = a[j];
                j--;
            }
            a[j + 1] = v;
        }
    }

    private static int med3(int x, int y, int z) {
        return Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
    }

    /** Median of 3 (first, middle, last), or from 64 keys on Tukey's ninther over 9 spread keys. */
    private static int ninther(int[] a, int from, int to) {
        int m = to - from;
        int last = to - 1;
        int mid = from + m / 2;
        if (m < 64) {
            return med3(a[from], a[mid], a[last]);
        }
        int s = m / 8;
        return med3(med3(a[from], a[from + s], a[from + 2 * s]),
                med3(a[mid - s], a[mid], a[mid + s]),
                med3(a[last - 2 * s], a[last - s], a[last]));
    }

    /**
     * The median of the medians of the full groups of 5 in a[from, to), without modifying that range:
     * the group medians go to a[scratch ..] and their median is selected there (recursively).
     * At least 3/10 of the range (minus a constant) lies on each side of it.
     */
    private static int medianOfMedians(int[] a, int from, int to, int scratch, int badBudget) {
        int groups = (to - from) / 5;
        for (int g = 0; g < groups; g++) {
            int b = from + 5 * g;
            a[scratch + g] = median5(a[b], a[b + 1], a[b + 2], a[b + 3], a[b + 4]);
        }
        return select(a, scratch, scratch + groups, groups / 2, scratch + groups, badBudget);
    }

    /** Median of five values (six comparisons). */
    static int median5(int v0, int v1, int v2, int v3, int v4) {
        // Order two pairs; the smaller pair-minimum has three values above it, so it is not the
        // median (rank 2 of 5): drop it, and the median is rank 1 of the four left. Repeat with the
        // surviving pair and a new pair (its partner, v4): the smaller minimum is rank 0 of four,
        // drop it, and the median is the least of the three left.
        int a0 = Math.min(v0, v1);
        int a1 = Math.max(v0, v1);
        int b0 = Math.min(v2, v3);
        int b1 = Math.max(v2, v3);
        if (a0 < b0) { // drop a0; left: (b0 <= b1) and (a1, v4)
            int c0 = Math.min(a1, v4);
            int c1 = Math.max(a1, v4);
            return c0 < b0 ? Math.min(c1, b0) : Math.min(c0, b1);
        } else { // drop b0; left: (a0 <= a1) and (b1, v4)
            int c0 = Math.min(b1, v4);
            int c1 = Math.max(b1, v4);
            return c0 < a0 ? Math.min(c1, a0) : Math.min(c0, a1);
        }
    }

    private static void checkShape(int rows, int cols) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        }
        if ((long) rows * cols > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("shape [" + rows + ", " + cols + "] has more elements than an array holds");
        }
    }

    private static void checkArray(float[] a, int off, long len, String name) {
        Objects.requireNonNull(a, name);
        if (off < 0 || off + len > a.length) {
            throw new IllegalArgumentException(name + " at offset " + off + " needs " + len
                    + " elements but the array has " + a.length);
        }
    }

    @Override
    public String toString() {
        return "OutlierClamp(alpha=" + alpha + ", " + granularity + ")";
    }
}
