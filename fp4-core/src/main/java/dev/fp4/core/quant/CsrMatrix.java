package dev.fp4.core.quant;

import dev.fp4.core.simd.Simd;
import java.util.Arrays;
import java.util.Objects;

/**
 * A sparse FP32 matrix [rows, cols] in compressed sparse row (CSR) form: the non-zeros of row r are
 * {@code values[rowPtr[r] .. rowPtr[r+1])} at columns {@code colIdx[...]}, strictly increasing within
 * a row. It holds the outlier residual ΔX = X − X_c of {@link OutlierClamp} for the compensation
 * GeMM Y += ΔX·Wᵀ.
 *
 * <p>Reusable storage: {@link #reset(int, int)} empties the matrix and keeps its arrays; rows are
 * then built in order with {@link #append(int, float)} and {@link #endRow()}. Nothing is allocated
 * while the capacity suffices ({@link #ensureCapacity(int)} grows it, for instance once to the worst
 * case before a training run). Not thread-safe while being built; the products only read it.
 *
 * <p>Products (FP32, {@code accumulate} adds into C): every output element is accumulated over the
 * non-zeros of the reduction index in increasing index order with {@link Math#fma}, the same order
 * and operations as {@link dev.fp4.core.gemm.FloatGemm} on the densified matrix; the skipped zero
 * terms would only add ±0, so the results are equal in value (a zero may differ in sign).
 */
public final class CsrMatrix {


    private int rows;
    private int cols;
    private int nnz;
    private int rowsDone;
    private int[] rowPtr;
    private int[] colIdx;
    private float[] values;

    // Column view of the pattern for the sampled product (built on demand, see columnView): the
    // elements of column c are colRow[colPtr[c] .. colPtr[c+1]) (their rows, increasing) stored
    // at dst index colDst = row·cols + c, with A's row offsets colRowOff = row·n for the last n.
    private long pattern;            // changes with every mutation of the pattern
    private long columnsOf = -1;     // the pattern the column view was built for
    private int[] colPtr = new int[1];
    private int[] colRow = new int[0];
    private int[] colDst = new int[0];
    private int[] colRowOff = new int[0];
    private int colRowOffN = -1;

    /** An empty [rows, cols] matrix with no rows built yet and no non-zero capacity. */
    public CsrMatrix(int rows, int cols) {
        this(rows, cols, 0);
    }

    /** An empty [rows, cols] matrix with room for {@code capacity} non-zeros. */
    public CsrMatrix(int rows, int cols, int capacity) {
        checkShape(rows, cols);
        if (capacity < 0) {
            throw new IllegalArgumentException("negative capacity " + capacity);
        }
        this.rowPtr = new int[rows + 1];
        this.colIdx = new int[capacity];
        this.values = new float[capacity];
        reset(rows, cols);
    }

    /** The CSR form of a dense row-major [rows, cols] matrix: every element that is not ±0. */
    public static CsrMatrix fromDense(float[] x, int off, int rows, int cols) {
        checkShape(rows, cols);
        checkDense(x, off, rows, cols, "dense");
        int count = 0;
        int len = rows * cols;
        for (int i = 0; i < len; i++) {
            if (x[off + i] != 0f) {
                count++;
            }
        }
        CsrMatrix m = new CsrMatrix(rows, cols, count);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float v = x[off + r * cols + c];
                if (v != 0f) {
                    m.append(c, v);
                }
            }
            m.endRow();
        }
        return m;
    }

    /** Empties the matrix and gives it a new shape; keeps the non-zero capacity. */
    public void reset(int rows, int cols) {
        checkShape(rows, cols);
        if (rowPtr.length < rows + 1) {
            rowPtr = new int[rows + 1];
        }
        this.rows = rows;
        this.cols = cols;
        this.nnz = 0;
        this.rowsDone = 0;
        pattern++;
        rowPtr[0] = 0;
    }

    /** Grows the non-zero capacity to at least {@code capacity}, keeping the entries built so far. */
    public void ensureCapacity(int capacity) {
        if (capacity > colIdx.length) {
            colIdx = Arrays.copyOf(colIdx, capacity);
            values = Arrays.copyOf(values, capacity);
        }
    }

    /** How many non-zeros fit without growing. */
    public int capacity() {
        return colIdx.length;
    }

    /**
     * Appends a non-zero to the row being built (row {@link #rowsBuilt()}). Columns must increase
     * strictly within a row. Grows the capacity if needed (doubling).
     */
    public void append(int col, float value) {
        if (rowsDone >= rows) {
            throw new IllegalStateException("all " + rows + " rows are built; reset() to start again");
        }
        if (col < 0 || col >= cols) {
            throw new IllegalArgumentException("column " + col + " outside [0, " + cols + ")");
        }
        if (nnz > rowPtr[rowsDone] && colIdx[nnz - 1] >= col) {
            throw new IllegalArgumentException("columns must increase within row " + rowsDone + ": "
                    + col + " after " + colIdx[nnz - 1]);
        }
        if (nnz == colIdx.length) {
            ensureCapacity(Math.max(8, 2 * nnz));
        }
        colIdx[nnz] = col;
        values[nnz] = value;
        nnz++;
        pattern++;
    }

    /** Closes the row being built; the next {@link #append} goes to the next row. */
    public void endRow() {
        if (rowsDone >= rows) {
            throw new IllegalStateException("all " + rows + " rows are built; reset() to start again");
        }
        rowPtr[++rowsDone] = nnz;
    }

    /**
     * Kernel entry: the caller has written {@code count} entries of the current row at
     * {@code colIdx()/values()[nnz() ..]} (capacity ensured before); this commits them and ends the row.
     */
    void commitRow(int count) {
        nnz += count;
        rowPtr[++rowsDone] = nnz;
        pattern++;
    }

    /** Number of rows. */
    public int rows() {
        return rows;
    }

    /** Number of columns. */
    public int cols() {
        return cols;
    }

    /** Number of stored non-zeros. */
    public int nnz() {
        return nnz;
    }

    /** Rows closed so far with {@link #endRow()}; equals {@link #rows()} when the matrix is complete. */
    public int rowsBuilt() {
        return rowsDone;
    }

    /** Whether every row has been closed. */
    public boolean isComplete() {
        return rowsDone == rows;
    }

    /** nnz / (rows·cols); 0 for an empty shape. */
    public double density() {
        long size = (long) rows * cols;
        return size == 0 ? 0.0 : (double) nnz / size;
    }

    /** The live row pointer array (length ≥ rows+1; entries [0, rowsBuilt()] are valid). Do not modify. */
    public int[] rowPtr() {
        return rowPtr;
    }

    /** The live column index array (entries [0, nnz) are valid). Do not modify. */
    public int[] colIdx() {
        return colIdx;
    }

    /** The live value array (entries [0, nnz) are valid). Do not modify. */
    public float[] values() {
        return values;
    }

    /** Element (r, c), 0 when not stored. */
    public float get(int r, int c) {
        requireComplete();
        Objects.checkIndex(r, rows);
        Objects.checkIndex(c, cols);
        int i = Arrays.binarySearch(colIdx, rowPtr[r], rowPtr[r + 1], c);
        return i >= 0 ? values[i] : 0f;
    }

    /** A new dense row-major [rows, cols] array. */
    public float[] toDense() {
        float[] d = new float[rows * cols];
        toDense(d, 0);
        return d;
    }

    /** Writes the dense row-major form into {@code dst} from {@code off}, zeros included. */
    public void toDense(float[] dst, int off) {
        requireComplete();
        checkDense(dst, off, rows, cols, "dst");
        Arrays.fill(dst, off, off + rows * cols, 0f);
        for (int r = 0; r < rows; r++) {
            for (int i = rowPtr[r]; i < rowPtr[r + 1]; i++) {
                dst[off + r * cols + colIdx[i]] = values[i];
            }
        }
    }

    /**
     * C[m,n] (+)= this[m,k] · W[n,k]ᵀ — the compensation GeMM ΔX·Wᵀ of a linear layer (W laid out
     * [out, in]). Each C[i,j] is the dot product of row i's non-zeros with W's row j, accumulated
     * from 0 with fma in increasing column order, then stored or added to C: as
     * {@code FloatGemm.matmulNT} on the dense matrix.
     */
    public void multiplyNT(float[] w, int wOff, int n, float[] c, int cOff, boolean accumulate) {
        requireComplete();
        checkOperand(w, wOff, n, cols, "W", "multiplyNT", "W[n, k]ᵀ");
        checkOperand(c, cOff, rows, n, "C", "multiplyNT", "W[n, k]ᵀ");
        for (int r = 0; r < rows; r++) {
            int start = rowPtr[r];
            int end = rowPtr[r + 1];
            int cr = cOff + r * n;
            if (start == end) {
                if (!accumulate) {
                    Arrays.fill(c, cr, cr + n, 0f);
                }
                continue;
            }
            for (int j = 0; j < n; j++) {
                int wj = wOff + j * cols;
                float s = 0f;
                for (int i = start; i < end; i++) {
                    s = Math.fma(values[i], w[wj + colIdx[i]], s);
                }
                c[cr + j] = accumulate ? c[cr + j] + s : s;
            }
        }
    }

    /**
     * C[m,n] (+)= this[m,k] · B[k,n]. Each C[i,j] accumulates in place with fma over the non-zero
     * columns p of row i in increasing order (starting from C or from 0), as
     * {@code FloatGemm.matmulNN} on the dense matrix.
     */
    public void multiplyNN(float[] b, int bOff, int n, float[] c, int cOff, boolean accumulate) {
        requireComplete();
        checkOperand(b, bOff, cols, n, "B", "multiplyNN", "B[k, n]");
        checkOperand(c, cOff, rows, n, "C", "multiplyNN", "B[k, n]");
        for (int r = 0; r < rows; r++) {
            int cr = cOff + r * n;
            if (!accumulate) {
                Arrays.fill(c, cr, cr + n, 0f);
            }
            for (int i = rowPtr[r]; i < rowPtr[r + 1]; i++) {
                float v = values[i];
                int bp = bOff + colIdx[i] * n;
                for (int j = 0; j < n; j++) {
                    c[cr + j] = Math.fma(v, b[bp + j], c[cr + j]);
                }
            }
        }
    }

    /**
     * C[k,n] (+)= this[m,k]ᵀ · B[m,n]. Each C[p,j] accumulates in place with fma over the rows i in
     * increasing order, as {@code FloatGemm.matmulTN(thisDense, B)}.
     */
    public void multiplyTN(float[] b, int bOff, int n, float[] c, int cOff, boolean accumulate) {
        requireComplete();
        checkOperand(b, bOff, rows, n, "B", "multiplyTN", "B[m, n]");
        checkOperand(c, cOff, cols, n, "C", "multiplyTN", "B[m, n]");
        if (!accumulate) {
            Arrays.fill(c, cOff, cOff + cols * n, 0f);
        }
        multiplyTNAccumulate(b, bOff, n, c, cOff, 0, n);
    }

    /**
     * {@link #multiplyTN} accumulating into C's columns [from, to) only: C[p,j] += Σ_i this[i,p]·B[i,j]
     * for j in the range, each element's chain over the rows in increasing order. Splitting the
     * columns over threads gives the same bits as one accumulating {@code multiplyTN}.
     *
     * @throws IllegalArgumentException for bad shapes or a range not within [0, n]
     */
    public void multiplyTN(float[] b, int bOff, int n, float[] c, int cOff, int from, int to) {
        requireComplete();
        checkOperand(b, bOff, rows, n, "B", "multiplyTN", "B[m, n]");
        checkOperand(c, cOff, cols, n, "C", "multiplyTN", "B[m, n]");
        if (from < 0 || from > to || to > n) {
            throw new IllegalArgumentException("multiplyTN: column range [" + from + ", " + to
                    + ") is not within [0, " + n + ")");
        }
        multiplyTNAccumulate(b, bOff, n, c, cOff, from, to);
    }

    private void multiplyTNAccumulate(float[] b, int bOff, int n, float[] c, int cOff, int from, int to) {
        if (Simd.ENABLED) {
            multiplyTNVector(b, bOff, n, c, cOff, from, to);
        } else {
            multiplyTNScalar(b, bOff, n, c, cOff, from, to);
        }
    }

    /**
     * The vector kernel of {@link #multiplyTN} (accumulating) over C's columns [from, to): each lane
     * runs one element's fma chain.
     */
    void multiplyTNVector(float[] b, int bOff, int n, float[] c, int cOff, int from, int to) {
        CsrMatrixPanama.multiplyTNVector(rows, rowPtr, colIdx, values, b, bOff, n, c, cOff, from, to);
    }

    /** Scalar twin of {@link #multiplyTNVector}. */
    void multiplyTNScalar(float[] b, int bOff, int n, float[] c, int cOff, int from, int to) {
        for (int r = 0; r < rows; r++) {
            int br = bOff + r * n;
            for (int i = rowPtr[r]; i < rowPtr[r + 1]; i++) {
                float v = values[i];
                int cp = cOff + colIdx[i] * n;
                for (int j = from; j < to; j++) {
                    c[cp + j] = Math.fma(v, b[br + j], c[cp + j]);
                }
            }
        }
    }

    /**
     * C[n,k] (+)= A[m,n]ᵀ · this[m,k] — the weight-gradient form dW += dYᵀ·ΔX in W's [out, in]
     * layout. Each C[j,p] accumulates in place with fma over the rows i in increasing order, as
     * {@code FloatGemm.matmulTN(A, thisDense)}.
     */
    public void leftMultiplyTN(float[] a, int aOff, int n, float[] c, int cOff, boolean accumulate) {
        requireComplete();
        checkOperand(a, aOff, rows, n, "A", "leftMultiplyTN", "A[m, n]ᵀ");
        checkOperand(c, cOff, n, cols, "C", "leftMultiplyTN", "A[m, n]ᵀ");
        if (!accumulate) {
            Arrays.fill(c, cOff, cOff + n * cols, 0f);
        }
        for (int r = 0; r < rows; r++) {
            int ar = aOff + r * n;
            for (int i = rowPtr[r]; i < rowPtr[r + 1]; i++) {
                float v = values[i];
                int cp = cOff + colIdx[i];
                for (int j = 0; j < n; j++) {
                    c[cp + j * cols] = Math.fma(a[ar + j], v, c[cp + j * cols]);
                }
            }
        }
    }

    /**
     * C[m,n] (+)= this[m,k] · W[n,k]ᵀ given Wᵀ: {@code wt} is W transposed, [k, n] row-major. The
     * result equals {@link #multiplyNT} on W bit for bit (each C[i,j] is the same fma chain from 0
     * over row i's non-zeros in increasing column order, then stored or added to C), but the chains
     * of one row run side by side in vector lanes along j, reading rows of Wᵀ contiguously instead of
     * gathering one element per W row.
     */
    public void multiplyNTTransposed(float[] wt, int wtOff, int n, float[] c, int cOff, boolean accumulate) {
        requireComplete();
        checkOperand(wt, wtOff, cols, n, "Wt", "multiplyNTTransposed", "Wt[k, n]");
        checkOperand(c, cOff, rows, n, "C", "multiplyNTTransposed", "Wt[k, n]");
        multiplyNTTransposedRows(wt, wtOff, n, c, cOff, accumulate, 0, rows);
    }

    /**
     * {@link #multiplyNTTransposed} for C's rows [from, to) only (the other rows of C are not
     * touched). Splitting the rows over threads gives the same bits as one call.
     *
     * @throws IllegalArgumentException for bad shapes or a range not within [0, rows()]
     */
    public void multiplyNTTransposed(float[] wt, int wtOff, int n, float[] c, int cOff, boolean accumulate,
                                     int from, int to) {
        requireComplete();
        checkOperand(wt, wtOff, cols, n, "Wt", "multiplyNTTransposed", "Wt[k, n]");
        checkOperand(c, cOff, rows, n, "C", "multiplyNTTransposed", "Wt[k, n]");
        if (from < 0 || from > to || to > rows) {
            throw new IllegalArgumentException("multiplyNTTransposed: row range [" + from + ", " + to
                    + ") is not within [0, " + rows + ")");
        }
        multiplyNTTransposedRows(wt, wtOff, n, c, cOff, accumulate, from, to);
    }

    private void multiplyNTTransposedRows(float[] wt, int wtOff, int n, float[] c, int cOff, boolean accumulate,
                                          int from, int to) {
        if (Simd.ENABLED) {
            multiplyNTTransposedVector(wt, wtOff, n, c, cOff, accumulate, from, to);
        } else {
            multiplyNTTransposedScalar(wt, wtOff, n, c, cOff, accumulate, from, to);
        }
    }

    /** Vector kernel of {@link #multiplyNTTransposed} over rows [from, to): four vectors of chains per pass over a row's non-zeros. */
    void multiplyNTTransposedVector(float[] wt, int wtOff, int n, float[] c, int cOff, boolean accumulate,
                                    int from, int to) {
        CsrMatrixPanama.multiplyNTTransposedVector(rowPtr, colIdx, values, wt, wtOff, n, c, cOff, accumulate, from, to);
    }

    /** Scalar twin of {@link #multiplyNTTransposedVector}. */
    void multiplyNTTransposedScalar(float[] wt, int wtOff, int n, float[] c, int cOff, boolean accumulate,
                                    int from, int to) {
        for (int r = from; r < to; r++) {
            int start = rowPtr[r];
            int end = rowPtr[r + 1];
            int cr = cOff + r * n;
            if (start == end) {
                if (!accumulate) {
                    Arrays.fill(c, cr, cr + n, 0f);
                }
                continue;
            }
            for (int j = 0; j < n; j++) {
                float s = 0f;
                for (int i = start; i < end; i++) {
                    s = Math.fma(values[i], wt[wtOff + colIdx[i] * n + j], s);
                }
                c[cr + j] = accumulate ? c[cr + j] + s : s;
            }
        }
    }

    /**
     * The dense product A·Bᵀ sampled at this matrix's non-zero positions: for every stored (i, p),
     * dst[i, p] = Σ_j A[i,j]·B[p,j], one fma chain from 0 over j = 0 .. n−1 in increasing order
     * (A is [m, n], B is [k, n], dst is [m, k], all row-major; other elements of dst are not
     * touched). Runs column by column ({@link #sampledProductNTColumns} over all columns): the
     * chains of up to eight non-zeros of a column run interleaved and share B's loads, so the loop
     * is bound by throughput rather than by the latency of one chain; each chain's result is the
     * same however the elements are grouped.
     */
    public void sampledProductNT(float[] a, int aOff, int n, float[] b, int bOff, float[] dst, int dstOff) {
        sampledProductNTColumns(a, aOff, n, b, bOff, dst, dstOff, 0, cols);
    }

    /**
     * {@link #sampledProductNT(float[], int, int, float[], int, float[], int)} for the stored
     * elements with index in [from, to) only (in storage order, i.e. row by row; four chains
     * interleaved). Each element is its own chain, so splitting the index range over threads gives
     * the same bits as one call.
     *
     * @throws IllegalArgumentException if the range is not within [0, nnz()]
     */
    public void sampledProductNT(float[] a, int aOff, int n, float[] b, int bOff, float[] dst, int dstOff, int from, int to) {
        requireComplete();
        checkOperand(a, aOff, rows, n, "A", "sampledProductNT", "B[k, n]");
        checkOperand(b, bOff, cols, n, "B", "sampledProductNT", "B[k, n]");
        checkOperand(dst, dstOff, rows, cols, "dst", "sampledProductNT", "B[k, n]");
        if (from < 0 || from > to || to > nnz) {
            throw new IllegalArgumentException("sampledProductNT: element range [" + from + ", " + to
                    + ") is not within [0, " + nnz + ")");
        }
        int t = from;
        int r = rowOf(from);
        for (; t + 4 <= to; t += 4) {
            while (rowPtr[r + 1] <= t) {
                r++;
            }
            int r1 = r;
            while (rowPtr[r1 + 1] <= t + 1) {
                r1++;
            }
            int r2 = r1;
            while (rowPtr[r2 + 1] <= t + 2) {
                r2++;
            }
            int r3 = r2;
            while (rowPtr[r3 + 1] <= t + 3) {
                r3++;
            }
            int a0 = aOff + r * n;
            int a1 = aOff + r1 * n;
            int a2 = aOff + r2 * n;
            int a3 = aOff + r3 * n;
            int b0 = bOff + colIdx[t] * n;
            int b1 = bOff + colIdx[t + 1] * n;
            int b2 = bOff + colIdx[t + 2] * n;
            int b3 = bOff + colIdx[t + 3] * n;
            float s0 = 0f;
            float s1 = 0f;
            float s2 = 0f;
            float s3 = 0f;
            for (int j = 0; j < n; j++) {
                s0 = Math.fma(a[a0 + j], b[b0 + j], s0);
                s1 = Math.fma(a[a1 + j], b[b1 + j], s1);
                s2 = Math.fma(a[a2 + j], b[b2 + j], s2);
                s3 = Math.fma(a[a3 + j], b[b3 + j], s3);
            }
            dst[dstOff + r * cols + colIdx[t]] = s0;
            dst[dstOff + r1 * cols + colIdx[t + 1]] = s1;
            dst[dstOff + r2 * cols + colIdx[t + 2]] = s2;
            dst[dstOff + r3 * cols + colIdx[t + 3]] = s3;
            r = r3;
        }
        for (; t < to; t++) {
            while (rowPtr[r + 1] <= t) {
                r++;
            }
            int a0 = aOff + r * n;
            int b0 = bOff + colIdx[t] * n;
            float s = 0f;
            for (int j = 0; j < n; j++) {
                s = Math.fma(a[a0 + j], b[b0 + j], s);
            }
            dst[dstOff + r * cols + colIdx[t]] = s;
        }
    }

    /**
     * The same sampled product as {@link #sampledProductNT(float[], int, int, float[], int, float[], int)},
     * for the stored elements in columns [colFrom, colTo) only; the bits of every element are the
     * same (each is its own chain). Columns are the unit of work: the elements of one column share
     * B's row, so up to eight of them run interleaved on one load of B[c, j]. Splitting the column
     * range over threads gives the same bits as one call. (A vector form with the elements of a
     * column in the lanes, A's rows gathered, was measured no faster than the scalar 4-chain loop
     * on AVX-512: the gathers cost what the loads did.)
     * Calls may run concurrently (they only read the matrix) while it is not being rebuilt.
     *
     * @throws IllegalArgumentException if the column range is not within [0, cols()]
     */
    public void sampledProductNTColumns(float[] a, int aOff, int n, float[] b, int bOff, float[] dst, int dstOff,
                                        int colFrom, int colTo) {
        requireComplete();
        checkOperand(a, aOff, rows, n, "A", "sampledProductNT", "B[k, n]");
        checkOperand(b, bOff, cols, n, "B", "sampledProductNT", "B[k, n]");
        checkOperand(dst, dstOff, rows, cols, "dst", "sampledProductNT", "B[k, n]");
        if (colFrom < 0 || colFrom > colTo || colTo > cols) {
            throw new IllegalArgumentException("sampledProductNT: column range [" + colFrom + ", " + colTo
                    + ") is not within [0, " + cols + ")");
        }
        int[] rowOff = columnView(n);
        sampledProductColumnsKernel(a, aOff, n, b, bOff, dst, dstOff, colFrom, colTo, colPtr, colDst, rowOff);
    }

    /**
     * Builds (once per pattern) the column view and the row offsets row·n of A for this n; returns
     * the offsets. A new n gets a new offsets array, so concurrent callers holding the previous one
     * keep reading a consistent view.
     */
    private synchronized int[] columnView(int n) {
        if (columnsOf != pattern) {
            if (colPtr.length < cols + 1) {
                colPtr = new int[cols + 1];
            }
            if (colRow.length < nnz) {
                // The capacity (OutlierClamp grows it once to the most a clamp can change), not nnz,
                // which varies from step to step: no reallocation at each new maximum.
                colRow = new int[Math.max(nnz, colIdx.length)];
                colDst = new int[colRow.length];
            }
            // Counting sort by column; rows are visited in increasing order, so each column's list is
            // sorted by row.
            Arrays.fill(colPtr, 0, cols + 1, 0);
            for (int t = 0; t < nnz; t++) {
                colPtr[colIdx[t] + 1]++;
            }
            for (int c = 0; c < cols; c++) {
                colPtr[c + 1] += colPtr[c];
            }
            for (int r = 0; r < rows; r++) {
                for (int t = rowPtr[r]; t < rowPtr[r + 1]; t++) {
                    int c = colIdx[t];
                    int at = colPtr[c]++;
                    colRow[at] = r;
                    colDst[at] = r * cols + c;
                }
            }
            for (int c = cols; c > 0; c--) {
                colPtr[c] = colPtr[c - 1];
            }
            colPtr[0] = 0;
            columnsOf = pattern;
            colRowOffN = -1;
        }
        if (colRowOffN != n) {
            int[] off = colRowOff.length >= nnz && colRowOffN < 0 ? colRowOff : new int[Math.max(nnz, colIdx.length)];
            for (int t = 0; t < nnz; t++) {
                off[t] = colRow[t] * n;
            }
            colRowOff = off;
            colRowOffN = n;
        }
        return colRowOff;
    }

    /**
     * Kernel of {@link #sampledProductNTColumns}: per column, eight elements at a time run their
     * chains interleaved, sharing each load of B[c, j] (9 loads per 8 fmas instead of 16, and 8
     * independent chains hide the fma latency), then four, then one; each element is its fma chain
     * over j = 0 .. n−1 from 0.
     */
    void sampledProductColumnsKernel(float[] a, int aOff, int n, float[] b, int bOff, float[] dst, int dstOff,
                                     int colFrom, int colTo, int[] ptr, int[] dstIdx, int[] rowOff) {
        for (int c = colFrom; c < colTo; c++) {
            int end = ptr[c + 1];
            int bc = bOff + c * n;
            int g = ptr[c];
            for (; g + 8 <= end; g += 8) {
                int a0 = aOff + rowOff[g];
                int a1 = aOff + rowOff[g + 1];
                int a2 = aOff + rowOff[g + 2];
                int a3 = aOff + rowOff[g + 3];
                int a4 = aOff + rowOff[g + 4];
                int a5 = aOff + rowOff[g + 5];
                int a6 = aOff + rowOff[g + 6];
                int a7 = aOff + rowOff[g + 7];
                float s0 = 0f;
                float s1 = 0f;
                float s2 = 0f;
                float s3 = 0f;
                float s4 = 0f;
                float s5 = 0f;
                float s6 = 0f;
                float s7 = 0f;
                for (int j = 0; j < n; j++) {
                    float bj = b[bc + j];
                    s0 = Math.fma(a[a0 + j], bj, s0);
                    s1 = Math.fma(a[a1 + j], bj, s1);
                    s2 = Math.fma(a[a2 + j], bj, s2);
                    s3 = Math.fma(a[a3 + j], bj, s3);
                    s4 = Math.fma(a[a4 + j], bj, s4);
                    s5 = Math.fma(a[a5 + j], bj, s5);
                    s6 = Math.fma(a[a6 + j], bj, s6);
                    s7 = Math.fma(a[a7 + j], bj, s7);
                }
                dst[dstOff + dstIdx[g]] = s0;
                dst[dstOff + dstIdx[g + 1]] = s1;
                dst[dstOff + dstIdx[g + 2]] = s2;
                dst[dstOff + dstIdx[g + 3]] = s3;
                dst[dstOff + dstIdx[g + 4]] = s4;
                dst[dstOff + dstIdx[g + 5]] = s5;
                dst[dstOff + dstIdx[g + 6]] = s6;
                dst[dstOff + dstIdx[g + 7]] = s7;
            }
            for (; g + 4 <= end; g += 4) {
                int a0 = aOff + rowOff[g];
                int a1 = aOff + rowOff[g + 1];
                int a2 = aOff + rowOff[g + 2];
                int a3 = aOff + rowOff[g + 3];
                float s0 = 0f;
                float s1 = 0f;
                float s2 = 0f;
                float s3 = 0f;
                for (int j = 0; j < n; j++) {
                    float bj = b[bc + j];
                    s0 = Math.fma(a[a0 + j], bj, s0);
                    s1 = Math.fma(a[a1 + j], bj, s1);
                    s2 = Math.fma(a[a2 + j], bj, s2);
                    s3 = Math.fma(a[a3 + j], bj, s3);
                }
                dst[dstOff + dstIdx[g]] = s0;
                dst[dstOff + dstIdx[g + 1]] = s1;
                dst[dstOff + dstIdx[g + 2]] = s2;
                dst[dstOff + dstIdx[g + 3]] = s3;
            }
            for (; g < end; g++) {
                int a0 = aOff + rowOff[g];
                float s0 = 0f;
                for (int j = 0; j < n; j++) {
                    s0 = Math.fma(a[a0 + j], b[bc + j], s0);
                }
                dst[dstOff + dstIdx[g]] = s0;
            }
        }
    }

    /** The last row r with rowPtr[r] ≤ t (the row of stored element t when t &lt; nnz), by bisection. */
    private int rowOf(int t) {
        int lo = 0;
        int hi = rows; // rowPtr[rows] = nnz
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (rowPtr[mid] <= t) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private void requireComplete() {
        if (rowsDone != rows) {
            throw new IllegalStateException("CSR matrix [" + rows + ", " + cols + "] is incomplete: "
                    + rowsDone + " of " + rows + " rows built");
        }
    }

    /** Builds the message only on failure: the hot path allocates nothing. */
    private void checkOperand(float[] x, int off, int r, int c, String name, String op, String other) {
        Objects.requireNonNull(x, name);
        if (r < 0 || c < 0) {
            throw new IllegalArgumentException(op + ": " + name + " has negative shape [" + r + ", " + c + "]");
        }
        long len = (long) r * c;
        if (off < 0 || off + len > x.length) {
            throw new IllegalArgumentException(op + " of sparse [" + rows + ", " + cols + "] with " + other
                    + ": " + name + " [" + r + ", " + c + "] at offset " + off + " needs " + len
                    + " elements but the array has " + x.length);
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

    private static void checkDense(float[] x, int off, int rows, int cols, String name) {
        Objects.requireNonNull(x, name);
        long len = (long) rows * cols;
        if (off < 0 || off + len > x.length) {
            throw new IllegalArgumentException(name + " [" + rows + ", " + cols + "] at offset " + off
                    + " needs " + len + " elements but the array has " + x.length);
        }
    }

    @Override
    public String toString() {
        return "CsrMatrix[" + rows + ", " + cols + "], nnz " + nnz + (isComplete() ? "" : " (incomplete)");
    }
}
