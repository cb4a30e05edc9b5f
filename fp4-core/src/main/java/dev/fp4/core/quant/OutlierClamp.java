package dev.fp4.core.quant;

import dev.fp4.core.gemm.Gemm;
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
 * <p>The two order statistics are found by selection, never by sorting a group. A contiguous group of
 * at least {@value #BAND_MIN} values (the whole tensor, or a long row) finds both in ONE pass over
 * it, after Floyd and Rivest: from 2048 keys sampled one per stratum, each wanted rank gets a narrow
 * band of keys (a few standard deviations of the sample count either side of it); the pass counts the
 * keys below each band's lower end and copies the keys inside each band to a buffer, and a
 * selection in that buffer (a few % of the group) gives the rank. When the rank falls outside its
 * band (a misleading sample; it is checked by the counts) it is selected from all keys, so only speed
 * depends on the sample. Other groups use a quickselect that
 * keeps only the side of a pivot holding the wanted rank (a vectorized count of keys below/equal to
 * the pivot, then a vectorized compaction of the kept side), with deterministic pivots (first a key of a fixed-stride sample of
 * 32 chosen just on the median's side of the wanted rank, then median of 3 or Tukey's ninther) and, after 3 steps that keep more than 3/4 of the range, the median of medians of 5 as
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
 * <p>Threads: with more than one thread in {@link Gemm}'s shared pool, large inputs are split over it
 * (the band pass by element ranges, per-row and per-column bounds by ranges of groups, the clamp
 * and residual by row ranges, each piece's residual appended in row order). Every result (bounds,
 * clamped values, residual, count, and which non-finite element an exception names) is the same
 * bit for bit whatever the thread count and vector width.
 *
 * <p>Buffers: the instance keeps its scratch arrays (sized on first use, grown only for larger
 * shapes), and the parallel phases' loop bodies are bound once, so a clamp allocates nothing once
 * shapes are stable, on any number of threads. An instance is therefore NOT thread-safe: use one per
 * calling thread. Clamps that run one after another may share their largest buffers
 * ({@link #shareScratchWith}).
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

    /** Ranges of at least this many keys get a sampled first pivot. */
    private static final int SAMPLED_PIVOT_MIN = 256;
    private static final int SAMPLE = 32;
    /** Sample ranks between the pivot and the wanted rank (of 32): about 10% of the range. */
    private static final int SAMPLE_MARGIN = 3;

    /** Steps keeping more than 3/4 of the range tolerated before switching to median-of-medians pivots. */
    static final int BAD_STEP_BUDGET = 3;

    /** Contiguous groups of at least this many values find both bounds in one band pass. */
    static final int BAND_MIN = 8192;
    /** Most keys the band pass samples (n/8 for smaller groups). */
    private static final int BAND_SAMPLE = 2048;
    /** Half-width of a band in standard deviations of the sample count below the wanted rank. */
    private static final double BAND_SIGMAS = 3.5;
    /** Elements per band-pass kernel call: the band buffers' room is checked between calls. */
    private static final int BAND_BLOCK = 4096;
    /** Fewest elements a piece of parallel work gets. */
    private static final int PIECE_MIN = 1 << 15;

    // Band-pass state of one piece: the kernel's ints (ClampKernels.bandPass), then bookkeeping.
    private static final int STRIDE = 32;
    private static final int OVERFLOW = ClampKernels.BAND_STATE; // + band: its buffer ran out of room
    private static final int BAD = OVERFLOW + 2; // index in x of the first non-finite element, or -1
    private static final int START = OVERFLOW + 3; // + band: start of the piece's band buffer in work
    private static final int LIMIT = OVERFLOW + 5; // + band: the furthest its write position may reach
    private static final int FROM = OVERFLOW + 7; // first element of the piece (relative to the group)
    private static final int LEN = OVERFLOW + 8; // elements of the piece
    private static final long MISS = Long.MIN_VALUE;
    /** Keys of the most negative and most positive finite floats: band ends past the sample's ends. */
    private static final int LOWEST = ClampKernels.key(-Float.MAX_VALUE);
    private static final int HIGHEST = ClampKernels.key(Float.MAX_VALUE);

    private final double alpha;
    private final Granularity granularity;
    private final int bandMin;
    private final int pieceMin;

    /** Scratch per piece of parallel work (entry 0 also serves serial calls), possibly shared ({@link #shareScratchWith}). */
    private Shared shared = new Shared();
    private float[] lowerBuf = new float[0];
    private float[] upperBuf = new float[0];
    private int[] rowCount = new int[0];
    private int[] spillCol = new int[0];
    private float[] spillVal = new float[0];

    /** The per-piece scratch; clamps that share it hold the same instance. */
    private static final class Shared {
        Scratch[] scratch = {new Scratch()};
    }

    /** Keys, band-pass state and counters of one task. */
    private static final class Scratch {
        int[] work = new int[0];
        int[] state = new int[0];
        /** Index in x of the first non-finite element the task met, or -1. */
        int bad;
        /** Band passes whose band missed a wanted rank (then that rank was selected from all keys). */
        int bandMisses;

        int[] work(int need) {
            if (work.length < need) {
                work = new int[need];
            }
            return work;
        }

        int[] state(int need) {
            if (state.length < need) {
                state = new int[need];
            }
            return state;
        }
    }

    /** α = 0.99, per row (token-wise). */
    public OutlierClamp() {
        this(DEFAULT_ALPHA, Granularity.PER_ROW);
    }

    /**
     * @param alpha       quantile in (0.5, 1] (the paper uses 0.99; ablations 0.999 and 0.97)
     * @param granularity grouping of the quantiles
     */
    public OutlierClamp(double alpha, Granularity granularity) {
        this(alpha, granularity, BAND_MIN, PIECE_MIN);
    }

    /**
     * Tests' constructor: the band pass from groups of {@code bandMin} (at least 8) values, and pieces
     * of parallel work from {@code pieceMin} elements, so that small inputs take every path.
     */
    OutlierClamp(double alpha, Granularity granularity, int bandMin, int pieceMin) {
        if (bandMin < 8 || pieceMin < 1) {
            throw new IllegalArgumentException("bandMin " + bandMin + " < 8 or pieceMin " + pieceMin + " < 1");
        }
        this.bandMin = bandMin;
        this.pieceMin = pieceMin;
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
        checkMatrix(x, off, rows, cols, "x");
        int g = groups(rows, cols);
        checkMatrix(lower, lOff, 1, g, "lower (one per group)");
        checkMatrix(upper, uOff, 1, g, "upper (one per group)");
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
        checkMatrix(x, xOff, rows, cols, "x");
        checkMatrix(out, oOff, rows, cols, "out");
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
        int capacity = (int) Math.min(maxClamped(rows, cols), Integer.MAX_VALUE - 8);
        if (residual != null) {
            residual.reset(rows, cols);
            residual.ensureCapacity(capacity);
            nzCol = residual.colIdx();
            nzVal = residual.values();
        }
        int pieces = (int) Math.min(pieces(size), rows);
        if (pieces == 1) {
            int total = 0;
            for (int r = 0; r < rows; r++) {
                int count = clampRow(x, xOff, out, oOff, cols, r, nzCol, nzVal, total);
                if (residual != null) {
                    residual.commitRow(count);
                }
                total += count;
            }
            return total;
        }
        return clampParallel(x, xOff, out, oOff, rows, cols, pieces, capacity, residual, nzCol, nzVal);
    }

    /**
     * Phase 2 over row ranges on the pool: piece 0 writes its residual entries in place, the others
     * into spill buffers (each room for the most a piece can clamp), appended after all in row order,
     * so the residual is the serial one.
     */
    private int clampParallel(float[] x, int xOff, float[] out, int oOff, int rows, int cols, int pieces,
                              int capacity, CsrMatrix residual, int[] nzCol, float[] nzVal) {
        int maxPieceRows = (rows + pieces - 1) / pieces;
        int spillRoom = (int) Math.min(capacity, (long) maxPieceRows * cols);
        if (residual != null && spillCol.length < (long) (pieces - 1) * spillRoom) {
            spillCol = new int[(pieces - 1) * spillRoom];
            spillVal = new float[(pieces - 1) * spillRoom];
        }
        if (rowCount.length < rows) {
            rowCount = new int[rows];
        }
        bind(x, xOff, out, oOff, rows, cols, pieces);
        this.spillRoom = spillRoom;
        this.keep = residual != null;
        this.nzCol = nzCol;
        this.nzVal = nzVal;
        Gemm.parallelFor(pieces, clampPiece);
        int[] counts = rowCount;
        int total = 0;
        for (int p = 0; p < pieces; p++) {
            int r0 = Gemm.splitPoint(rows, p, pieces);
            int r1 = Gemm.splitPoint(rows, p + 1, pieces);
            int k = 0;
            for (int r = r0; r < r1; r++) {
                k += counts[r];
            }
            if (keep && p > 0) {
                System.arraycopy(spillCol, (p - 1) * spillRoom, nzCol, total, k);
                System.arraycopy(spillVal, (p - 1) * spillRoom, nzVal, total, k);
            }
            total += k;
        }
        if (keep) {
            for (int r = 0; r < rows; r++) {
                residual.commitRow(counts[r]);
            }
        }
        return total;
    }

    /** Clamps row r (bounds in lowerBuf/upperBuf), residual entries at nzCol/nzVal[nzOff ..]; returns the count. */
    private int clampRow(float[] x, int xOff, float[] out, int oOff, int cols, int r, int[] nzCol, float[] nzVal,
                         int nzOff) {
        int xr = xOff + r * cols;
        int or = oOff + r * cols;
        return switch (granularity) {
            case PER_TENSOR -> ClampKernels.clamp(x, xr, out, or, cols, lowerBuf[0], upperBuf[0], nzCol, nzVal, nzOff);
            case PER_ROW -> ClampKernels.clamp(x, xr, out, or, cols, lowerBuf[r], upperBuf[r], nzCol, nzVal, nzOff);
            case PER_COLUMN -> ClampKernels.clampBounds(x, xr, out, or, cols, lowerBuf, upperBuf, 0, nzCol, nzVal,
                    nzOff);
        };
    }
    /** In place, without residual. */
    public int clamp(float[] x, int off, int rows, int cols) {
        return clamp(x, off, rows, cols, x, off, null);
    }

    /** Pieces of parallel work for {@code size} elements: 1 on one thread or for small sizes. */
    private long pieces(long size) {
        int threads = Gemm.threads();
        if (threads == 1 || size < 2L * pieceMin) {
            return 1;
        }
        // Twice the threads, so that a thread slowed by other work on a shared machine gets help.
        return Math.min(2L * threads, size / pieceMin);
    }

    private Scratch[] scratch(int n) {
        Scratch[] scratch = shared.scratch;
        if (scratch.length < n) {
            Scratch[] s = java.util.Arrays.copyOf(scratch, n);
            for (int p = scratch.length; p < n; p++) {
                s[p] = new Scratch();
            }
            shared.scratch = s;
        }
        return shared.scratch;
    }

    /**
     * Makes this clamp use {@code other}'s selection scratch (the key buffers, as large as the
     * largest group clamped, e.g. 2.6 MB for a per-tensor clamp of 1024 × 512) instead of its own,
     * so the clamps of a model's layers, which run one at a time, keep one copy between them.
     * Results do not change. Clamps that share scratch must never run concurrently.
     *
     * @return this clamp
     */
    public OutlierClamp shareScratchWith(OutlierClamp other) {
        this.shared = java.util.Objects.requireNonNull(other, "other").shared;
        return this;
    }

    /** Band-pass fallbacks so far (tests check that both paths run). */
    int bandMisses() {
        int m = 0;
        for (Scratch s : shared.scratch) {
            m += s.bandMisses;
        }
        return m;
    }

    private void computeBounds(float[] x, int off, int rows, int cols, float[] lower, int lOff,
                               float[] upper, int uOff) {
        int bad = -1;
        switch (granularity) {
            case PER_TENSOR -> {
                int n = rows * cols;
                if (n > 0) {
                    int pieces = n >= bandMin ? (int) pieces(n) : 1;
                    bad = groupBounds(x, off, 1, n, pieces, shared.scratch[0], lower, lOff, upper, uOff);
                }
            }
            case PER_ROW, PER_COLUMN -> bad = groupsBounds(x, off, rows, cols, lower, lOff, upper, uOff);
        }
        if (bad >= 0) {
            int rel = bad - off;
            throw new NonFiniteValueException("non-finite input " + x[bad] + " at [" + rel / cols + ", "
                    + rel % cols + "] (array index " + bad + "); outlier clamping needs finite values");
        }
    }

    /**
     * Bounds of every row or column, the groups split over the pool in ranges (one scratch each);
     * returns −1 or the index in x of the first non-finite element of the first group holding one
     * (the one a serial loop over the groups meets first).
     */
    private int groupsBounds(float[] x, int off, int rows, int cols, float[] lower, int lOff, float[] upper,
                             int uOff) {
        boolean perRow = granularity == Granularity.PER_ROW;
        int groups = perRow ? rows : cols;
        int pieces = (int) Math.min(pieces((long) rows * cols), groups);
        Scratch[] sc = scratch(pieces);
        if (pieces == 1) {
            return groupRange(x, off, rows, cols, 0, groups, sc[0], lower, lOff, upper, uOff);
        }
        bind(x, off, null, 0, rows, cols, pieces);
        this.groups = groups;
        this.lower = lower;
        this.lOff = lOff;
        this.upper = upper;
        this.uOff = uOff;
        Gemm.parallelFor(pieces, boundsPiece);
        for (int p = 0; p < pieces; p++) {
            if (sc[p].bad >= 0) {
                return sc[p].bad;
            }
        }
        return -1;
    }

    // The arguments of the running parallel phase, read by its bound piece bodies (a capturing
    // lambda would allocate at every call).
    private float[] x;
    private int xOff;
    private float[] out;
    private int oOff;
    private int rows;
    private int cols;
    private int pieces;
    private int spillRoom;
    private boolean keep;
    private int[] nzCol;
    private float[] nzVal;
    private int groups;
    private float[] lower;
    private int lOff;
    private float[] upper;
    private int uOff;
    private final java.util.function.IntConsumer clampPiece = this::clampPiece;
    private final java.util.function.IntConsumer boundsPiece = this::boundsPiece;

    private void bind(float[] x, int xOff, float[] out, int oOff, int rows, int cols, int pieces) {
        this.x = x;
        this.xOff = xOff;
        this.out = out;
        this.oOff = oOff;
        this.rows = rows;
        this.cols = cols;
        this.pieces = pieces;
    }

    /**
     * Phase 2 on rows of piece p: piece 0 writes its residual entries in place (nzCol, nzVal), the
     * others into their spill room; rowCount gets each row's count.
     */
    private void clampPiece(int p) {
        int r0 = Gemm.splitPoint(rows, p, pieces);
        int r1 = Gemm.splitPoint(rows, p + 1, pieces);
        int[] col = !keep ? null : p == 0 ? nzCol : spillCol;
        float[] val = !keep ? null : p == 0 ? nzVal : spillVal;
        int pos = p == 0 ? 0 : (p - 1) * spillRoom;
        for (int r = r0; r < r1; r++) {
            int count = clampRow(x, xOff, out, oOff, cols, r, col, val, pos);
            rowCount[r] = count;
            pos += count;
        }
    }

    /** The bounds of the groups of piece p, into its scratch (bad: its first non-finite element or −1). */
    private void boundsPiece(int p) {
        int g0 = Gemm.splitPoint(groups, p, pieces);
        int g1 = Gemm.splitPoint(groups, p + 1, pieces);
        Scratch sp = shared.scratch[p];
        sp.bad = groupRange(x, xOff, rows, cols, g0, g1, sp, lower, lOff, upper, uOff);
    }

    /** Bounds of groups [g0, g1); stops at (and returns the index in x of) the first non-finite element. */
    private int groupRange(float[] x, int off, int rows, int cols, int g0, int g1, Scratch s, float[] lower,
                           int lOff, float[] upper, int uOff) {
        boolean perRow = granularity == Granularity.PER_ROW;
        for (int g = g0; g < g1; g++) {
            int bad = perRow
                    ? groupBounds(x, off + g * cols, 1, cols, 1, s, lower, lOff + g, upper, uOff + g)
                    : groupBounds(x, off + g, cols, rows, 1, s, lower, lOff + g, upper, uOff + g);
            if (bad >= 0) {
                return bad;
            }
        }
        return -1;
    }

    /**
     * Bounds of the n values x[off + i·stride]: by a band pass (split in {@code pieces}) for a long
     * contiguous group, else by two selections over all keys. Returns −1 or the index in x of the
     * first non-finite value.
     */
    private int groupBounds(float[] x, int off, int stride, int n, int pieces, Scratch s, float[] lower, int lOff,
                            float[] upper, int uOff) {
        if (stride == 1 && n >= bandMin) {
            return bandBounds(x, off, n, pieces, s, lower, lOff, upper, uOff);
        }
        int[] work = s.work(n + n / 4 + SMALL);
        int bad = loadKeys(x, off, stride, n, work);
        if (bad >= 0) {
            return bad;
        }
        upper[uOff] = ClampKernels.fromKey(select(work, 0, n, upperIndex(n, alpha), n, BAD_STEP_BUDGET));
        loadKeys(x, off, stride, n, work); // selection consumed the keys
        lower[lOff] = ClampKernels.fromKey(select(work, 0, n, lowerIndex(n, alpha), n, BAD_STEP_BUDGET));
        return -1;
    }

    /** Keys of x[off + i·stride], i &lt; n, into work[0, n); returns −1 or the index in x of the first non-finite value. */
    private static int loadKeys(float[] x, int off, int stride, int n, int[] work) {
        int bad = stride == 1
                ? ClampKernels.toKeys(x, off, n, work, 0)
                : ClampKernels.toKeysStrided(x, off, stride, n, work, 0);
        return bad < 0 ? -1 : off + bad * stride;
    }

    /**
     * Both bounds of the contiguous group x[off, off + n), n ≥ 8, in one pass over it (after Floyd and
     * Rivest). From keys sampled at a fixed stride, each wanted rank r gets a band of keys (a, b]: the
     * sample keys some standard deviations (of the sample count below the r-th key) below and above
     * rank r·size/n of the sample. The pass (split over the pool in pieces) validates the values,
     * counts per band the keys &lt; a and ≤ a, and copies the keys inside either band into a buffer.
     * If r falls among the keys equal to a, a is the answer; among those in (a, b], a selection in the
     * (small) buffer gives it; otherwise (the sample misled, or the buffer ran out of room) r is
     * selected from all keys. Only speed depends on the sample: the result is the r-th key.
     */
    private int bandBounds(float[] x, int off, int n, int pieces, Scratch s, float[] lower, int lOff, float[] upper,
                           int uOff) {
        int lo = lowerIndex(n, alpha);
        int hi = upperIndex(n, alpha);
        int size = sampleSize(n);
        // work: [sample | a copy for selection | its scratch | band 0 buffers | band 1 buffers | scratch]
        int regionBase = 2 * size + size / 4 + SMALL;
        int[] st = s.state(pieces * STRIDE);
        long regions = 0;
        for (int p = 0; p < pieces; p++) {
            int from = pieceStart(n, p, pieces);
            int len = pieceStart(n, p + 1, pieces) - from;
            st[p * STRIDE + FROM] = from;
            st[p * STRIDE + LEN] = len;
            regions += 2L * (roomFor(len) + ClampKernels.BAND_SLACK);
        }
        long need = Math.max(n + n / 4 + SMALL, regionBase + regions + regions / 8 + SMALL);
        if (need > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("group of " + n + " values is too large for the selection scratch");
        }
        int[] work = s.work((int) need);
        for (int i = 0; i < size; i++) {
            work[i] = ClampKernels.key(x[off + samplePosition(n, size, i)]);
        }
        long band0 = band(work, size, lo, n);
        long band1 = band(work, size, hi, n);
        int pos = regionBase;
        for (int j = 0; j < 2; j++) {
            long band = j == 0 ? band0 : band1;
            int a = (int) (band >> 32);
            for (int p = 0; p < pieces; p++) {
                int so = p * STRIDE;
                st[so + 3 * j] = a;
                st[so + 3 * j + 1] = a + 1;
                st[so + 3 * j + 2] = (int) band - a;
                st[so + 6 + 2 * j] = 0;
                st[so + 7 + 2 * j] = 0;
                st[so + 10 + j] = pos;
                st[so + START + j] = pos;
                st[so + LIMIT + j] = pos + roomFor(st[so + LEN]);
                st[so + OVERFLOW + j] = 0;
                st[so + BAD] = -1;
                pos += roomFor(st[so + LEN]) + ClampKernels.BAND_SLACK;
            }
        }
        if (pieces == 1) {
            bandPiece(x, off, work, st, 0);
        } else {
            Gemm.parallelFor(pieces, p -> bandPiece(x, off, work, st, p * STRIDE));
        }
        for (int p = 0; p < pieces; p++) {
            if (st[p * STRIDE + BAD] >= 0) {
                return st[p * STRIDE + BAD];
            }
        }
        long lowKey = resolve(work, st, pieces, 0, lo, band0, pos);
        long highKey = resolve(work, st, pieces, 1, hi, band1, pos);
        if (lowKey == MISS || highKey == MISS) {
            s.bandMisses++;
        }
        // The fallbacks reuse the whole of work: after both bands are read.
        if (lowKey == MISS) {
            loadKeys(x, off, 1, n, work);
            lowKey = select(work, 0, n, lo, n, BAD_STEP_BUDGET);
        }
        if (highKey == MISS) {
            loadKeys(x, off, 1, n, work);
            highKey = select(work, 0, n, hi, n, BAD_STEP_BUDGET);
        }
        lower[lOff] = ClampKernels.fromKey((int) lowKey);
        upper[uOff] = ClampKernels.fromKey((int) highKey);
        return -1;
    }

    /** Sample size of the band pass for a group of n ≥ 8 values. */
    static int sampleSize(int n) {
        return Math.min(BAND_SAMPLE, n / 8);
    }

    /**
     * Position of sample key i (of {@code size}) in a group of n: one per stratum of n / size values,
     * at a pseudo-random (fixed) offset inside it, so that no period of the data (a row length, a
     * channel) lines up with the sample.
     */
    static int samplePosition(int n, int size, int i) {
        int stride = n / size;
        long h = ((i + 1) * 0x9E3779B97F4A7C15L) >>> 32; // 32 well-mixed bits
        return i * stride + (int) ((h * stride) >>> 32);
    }

    /** Room of a band buffer for a piece of {@code len} values: an eighth (a band holds a few %), and a block. */
    private static int roomFor(int len) {
        return len / 8 + BAND_BLOCK;
    }

    /** First element of piece p of n split in {@code pieces} (multiples of 64 inside). */
    private static int pieceStart(int n, int p, int pieces) {
        return p == pieces ? n : Gemm.splitPoint(n, p, pieces) & ~63;
    }

    /**
     * The band (a, b] (packed a &lt;&lt; 32 | b) for rank r of n from the sample keys work[0, size):
     * the sample keys BAND_SIGMAS standard deviations of a binomial count (plus 2) below and above
     * rank r·size/n; the lowest or highest finite key past the sample's ends.
     */
    private static long band(int[] work, int size, int rank, int n) {
        double q = (double) rank / n;
        double centre = q * size;
        int margin = (int) Math.ceil(BAND_SIGMAS * Math.sqrt(size * q * (1 - q))) + 2;
        int iLow = (int) Math.floor(centre) - margin;
        int iHigh = (int) Math.ceil(centre) + margin;
        int a = iLow < 0 ? LOWEST : sampleRank(work, size, iLow);
        int b = iHigh >= size ? HIGHEST : sampleRank(work, size, iHigh);
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    /** The key of rank r among the sample work[0, size), keeping the sample. */
    private static int sampleRank(int[] work, int size, int r) {
        System.arraycopy(work, 0, work, size, size);
        return select(work, size, 2 * size, r, 2 * size, BAD_STEP_BUDGET);
    }

    /** The band pass of one piece, in blocks; a band whose buffer may not hold the next block stops storing. */
    private static void bandPiece(float[] x, int off, int[] work, int[] st, int so) {
        int from = off + st[so + FROM];
        int len = st[so + LEN];
        for (int done = 0; done < len; done += BAND_BLOCK) {
            int block = Math.min(BAND_BLOCK, len - done);
            for (int j = 0; j < 2; j++) {
                if (st[so + 10 + j] + block > st[so + LIMIT + j]) {
                    st[so + 3 * j + 2] = 0; // an empty band: nothing more is kept
                    st[so + OVERFLOW + j] = 1;
                }
            }
            int bad = ClampKernels.bandPass(x, from + done, block, work, st, so);
            if (bad >= 0) {
                st[so + BAD] = from + done + bad;
                return;
            }
        }
    }

    /**
     * The key of rank r from band j's counts and buffers, or MISS. Gathers the pieces' buffers after
     * piece 0's (in piece order) and selects there, with scratch from {@code scratch} on.
     */
    private static long resolve(int[] work, int[] st, int pieces, int j, int rank, long band, int scratch) {
        int a = (int) (band >> 32);
        int b = (int) band;
        long below = 0; // keys < a
        long upToA = 0; // keys <= a
        boolean overflow = false;
        for (int p = 0; p < pieces; p++) {
            below += st[p * STRIDE + 6 + 2 * j];
            upToA += st[p * STRIDE + 7 + 2 * j];
            overflow |= st[p * STRIDE + OVERFLOW + j] != 0;
        }
        if (rank < below) {
            return MISS;
        }
        if (rank < upToA) {
            return a;
        }
        if (overflow || a >= b) {
            return MISS;
        }
        int base = st[START + j];
        int end = st[10 + j];
        for (int p = 1; p < pieces; p++) {
            int so = p * STRIDE;
            int k = st[so + 10 + j] - st[so + START + j];
            System.arraycopy(work, st[so + START + j], work, end, k);
            end += k;
        }
        long r = rank - upToA;
        return r < end - base ? select(work, base, end, (int) r, scratch, BAD_STEP_BUDGET) : MISS;
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
        boolean first = true;
        while (true) {
            int m = to - from;
            if (m <= SMALL) {
                insertionSort(a, from, to);
                return a[from + rank];
            }
            int pivot;
            if (bad > badBudget) {
                pivot = medianOfMedians(a, from, to, scratch, badBudget);
            } else if (first && m >= SAMPLED_PIVOT_MIN) {
                pivot = sampledPivot(a, from, to, rank, scratch);
            } else {
                pivot = ninther(a, from, to);
            }
            first = false;
            long counts = ClampKernels.countLessEqual(a, from, to, pivot);
            int less = (int) (counts >>> 32);
            int equal = (int) counts;
            int kept;
            if (rank < less) {
                kept = ClampKernels.keepLess(a, from, to, pivot) - from;
            } else if (rank < less + equal) {
                return pivot;
            } else {
                kept = ClampKernels.keepGreater(a, from, to, pivot) - from;
                rank -= less + equal;
            }
            to = from + kept;
            if (4L * kept > 3L * m) {
                bad++;
            }
        }
    }

    /**
     * First pivot for a large range (after Floyd and Rivest): sort 32 keys sampled at a fixed stride
     * and take the one a few sample ranks from the wanted rank, on the side of the median, so that the
     * wanted rank most likely lies on the small side of the pivot. For the quantiles of a clamp (1% and
     * 99%) the first step then keeps about 12% of the range instead of half. Only speed depends on
     * the sample; a pivot on the wrong side still leaves a correct, smaller range.
     */
    private static int sampledPivot(int[] a, int from, int to, int rank, int scratch) {
        int m = to - from;
        int stride = m / SAMPLE;
        for (int i = 0; i < SAMPLE; i++) {
            a[scratch + i] = a[from + i * stride + stride / 2];
        }
        insertionSort(a, scratch, scratch + SAMPLE);
        int r = (int) ((long) rank * SAMPLE / m);
        int pick = 2L * rank >= m ? Math.max(r - SAMPLE_MARGIN, 0) : Math.min(r + SAMPLE_MARGIN, SAMPLE - 1);
        return a[scratch + pick];
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

    /** Builds the message only on failure: the hot path allocates nothing. */
    private static void checkMatrix(float[] a, int off, int rows, int cols, String name) {
        Objects.requireNonNull(a, name);
        long len = (long) rows * cols;
        if (off < 0 || off + len > a.length) {
            throw new IllegalArgumentException(name + " [" + rows + ", " + cols + "] at offset " + off + " needs "
                    + len + " elements but the array has " + a.length);
        }
    }

    @Override
    public String toString() {
        return "OutlierClamp(alpha=" + alpha + ", " + granularity + ")";
    }
}
