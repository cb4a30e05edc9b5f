package dev.fp4.core.quant;

import dev.fp4.core.format.E4M3;

import dev.fp4.core.format.E2M1;
import dev.fp4.core.gemm.Gemm;
import java.util.Arrays;
import java.util.Objects;

/**
 * A row-major matrix [rows, cols] quantized to E2M1 under an {@link Fp4Scheme}: packed 4-bit codes
 * (two per byte, flat row-major, element 0 in the low nibble), one scale per block and a tensor
 * scale. The shape and scheme are fixed; the storage is reused by {@link #quantizeFrom}.
 *
 * <p>Dequantization: x̂[r,c] = (E2M1.decode(code[r,c]) · scale(r,c)) · tensorScale(), evaluated in
 * that order in FP32. With the power-of-two rules every product is exact.
 *
 * <p>Non-finite input: with the MX rules ({@link ScaleRule#nanForNonFinite()}) a block holding NaN
 * or ±∞ gets the NaN scale (E8M0 0xFF), its codes are set to 0 and it decodes to NaN; every other
 * rule (per-tensor, per-row, per-column, NVFP4) throws {@link IllegalArgumentException} naming the
 * (row, col) of the first non-finite element in row-major order; {@link #fakeQuantize} then
 * leaves its input unchanged, and a reused tensor is left decoding to NaN
 * ({@link #quantizeFrom(float[], int)}).
 *
 * <p>Thread safety: the read methods ({@link #decodeRow}, {@link #code}, ...) may run concurrently;
 * {@link #quantizeFrom} mutates the tensor and must not overlap with anything else on it.
 */
public final class Fp4Tensor {

    private final int rows;
    private final int cols;
    private final Fp4Scheme scheme;
    private final int blockRows;
    private final int blockCols;
    private final int blockRowCount;
    private final int blockColCount;
    private final byte[] packed;
    private final float[] scales;
    private final float[] multipliers;
    private final float[] amax;
    private final float[] rowMultipliers;
    /** One block row per row piece: the last row of a piece writes its (unused) "next" amax there. */
    private float[] spare;
    private float tensorScale = 1f;

    /** Below this many elements a tensor is quantized and decoded on the calling thread. */
    static final int PARALLEL_MIN = 1 << 16;

    private Fp4Tensor(int rows, int cols, Fp4Scheme scheme) {
        Objects.requireNonNull(scheme, "scheme");
        long n = checkShape(rows, cols);
        this.rows = rows;
        this.cols = cols;
        this.scheme = scheme;
        this.blockRows = scheme.blockRowsFor(rows);
        this.blockCols = scheme.blockColsFor(cols);
        this.blockRowCount = (rows + blockRows - 1) / blockRows;
        this.blockColCount = (cols + blockCols - 1) / blockCols;
        this.packed = new byte[(int) ((n + 1) / 2)];
        int blocks = blockRowCount * blockColCount;
        this.scales = new float[blocks];
        this.multipliers = new float[blocks];
        this.amax = new float[blocks];
        this.rowMultipliers = new float[cols];
        this.spare = new float[blockColCount];
        Arrays.fill(scales, 1f);
    }

    private static long checkShape(int rows, int cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("shape must be positive, got [" + rows + ", " + cols + "]");
        }
        long n = (long) rows * cols;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("shape [" + rows + ", " + cols + "] has more than 2^31 - 9 elements");
        }
        return n;
    }

    /**
     * Quantizes x, a row-major [rows, cols] matrix of exactly rows·cols elements.
     *
     * @throws IllegalArgumentException on a shape mismatch or non-finite input the scheme rejects
     */
    public static Fp4Tensor quantize(float[] x, int rows, int cols, Fp4Scheme scheme) {
        Objects.requireNonNull(x, "x");
        long n = checkShape(rows, cols);
        if (x.length != n) {
            throw new IllegalArgumentException("x has " + x.length + " elements, shape [" + rows + ", " + cols
                    + "] needs " + n);
        }
        Fp4Tensor t = new Fp4Tensor(rows, cols, scheme);
        t.quantizeFrom(x, 0);
        return t;
    }

    /** An all-zero tensor (codes 0, scales 1) of this shape, for reuse with {@link #quantizeFrom}. */
    public static Fp4Tensor allocate(int rows, int cols, Fp4Scheme scheme) {
        return new Fp4Tensor(rows, cols, scheme);
    }

    /**
     * Re-quantizes this tensor from {@code x[off, off + rows·cols)} (row-major), allocating nothing
     * (a large tensor is split over the threads with loop bodies bound once).
     * If the input is rejected (non-finite values for a scheme that does not accept them) the
     * exception names the first offending element and the tensor is left invalid on purpose: all
     * codes 0 and all scales NaN, so it decodes to NaN until the next successful quantization
     * (schemes with row-local blocks encode rows while still reading later ones, so the old
     * contents cannot be kept without a second pass over the input). {@code x} is never modified.
     */
    public void quantizeFrom(float[] x, int off) {
        quantizeFrom(x, off, scheme.rounding());
    }

    /**
     * As {@link #quantizeFrom(float[], int)}, drawing stochastic-rounding variates from the given
     * stream (e.g. the training step) instead of the scheme's. Deterministic schemes ignore it.
     */
    public void quantizeFrom(float[] x, int off, long stream) {
        quantizeFrom(x, off, scheme.rounding().withStream(stream));
    }

    private void quantizeFrom(float[] x, int off, Rounding rounding) {
        Objects.requireNonNull(x, "x");
        Objects.checkFromIndexSize(off, rows * cols, x.length);
        try {
            if (blockRows == 1 && !scheme.scaleRule().isTwoLevel() && (cols % 2 == 0 || rows == 1)
                    && QuantKernels.blocksVectorized(0, cols, blockCols)) {
                quantizeRowPipeline(x, off, rounding);
            } else {
                quantizeTwoPass(x, off, rounding);
            }
        } catch (IllegalArgumentException e) {
            // A rejected input must not leave a half-updated tensor that looks valid.
            Arrays.fill(packed, (byte) 0);
            Arrays.fill(scales, Float.NaN);
            tensorScale = 1f;
            throw e;
        }
    }

    /**
     * Row-local blocks (1 × blockCols): each row's block amax is computed in the same pass that
     * encodes the previous row (QuantKernels.encodeBlocks), so the input streams from memory once.
     * Rows are independent (stochastic variates are indexed by element), so large tensors run in
     * row pieces over the pool ({@link Gemm#parallelFor}): the same bits for any thread count.
     */
    private void quantizeRowPipeline(float[] x, int off, Rounding rounding) {
        tensorScale = 1f;
        int pieces = rowPieces();
        if (spare.length < pieces * blockColCount) {
            spare = new float[pieces * blockColCount];
        }
        if (pieces == 1) {
            pipelineRows(x, off, rounding, 0, rows, 0);
        } else {
            bindPieces(x, off, rounding, pieces);
            Gemm.parallelFor(pieces, pipelinePiece);
        }
    }

    // The arguments of the running split, read by the bound piece bodies (a capturing lambda would
    // allocate at every call).
    private float[] pieceArray;
    private int pieceOff;
    private Rounding pieceRounding;
    private int pieceCount;
    private final java.util.function.IntConsumer pipelinePiece = this::pipelinePiece;

    /** The loop body of a split {@link #dequantizeInto}, one per calling thread (no allocation per call). */
    private static final ThreadLocal<DequantizePieces> DEQUANTIZE = ThreadLocal.withInitial(DequantizePieces::new);

    private static final class DequantizePieces implements java.util.function.IntConsumer {
        private Fp4Tensor tensor;
        private float[] dst;
        private int off;
        private int pieces;

        void bind(Fp4Tensor tensor, float[] dst, int off, int pieces) {
            this.tensor = tensor;
            this.dst = dst;
            this.off = off;
            this.pieces = pieces;
        }

        /** Rows of piece p. */
        @Override
        public void accept(int p) {
            int rows = tensor.rows;
            tensor.dequantizeRows(dst, off, Gemm.splitPoint(rows, p, pieces), Gemm.splitPoint(rows, p + 1, pieces));
        }
    }

    private void bindPieces(float[] array, int off, Rounding rounding, int pieces) {
        this.pieceArray = array;
        this.pieceOff = off;
        this.pieceRounding = rounding;
        this.pieceCount = pieces;
    }

    private int pieceStart(int p) {
        return Gemm.splitPoint(rows, p, pieceCount);
    }

    /** Piece p of the row pipeline (pieceArray is the input; quantizeFrom runs alone on a tensor). */
    private void pipelinePiece(int p) {
        pipelineRows(pieceArray, pieceOff, pieceRounding, pieceStart(p), pieceStart(p + 1), p);
    }


    /** Row pieces for the calling thread and the pool: one per thread for large tensors. */
    private int rowPieces() {
        return (long) rows * cols < PARALLEL_MIN ? 1 : Math.min(rows, Gemm.threads());
    }

    /** Rows [r0, r1) of the pipeline; the piece's last row writes its "next" amax to spare row {@code piece}. */
    private void pipelineRows(float[] x, int off, Rounding rounding, int r0, int r1, int piece) {
        ScaleRule rule = scheme.scaleRule();
        int nbc = blockColCount;
        int rowOff = off + r0 * cols;
        for (int j = 0, c0 = 0; j < nbc; j++, c0 += blockCols) {
            amax[r0 * nbc + j] = QuantKernels.absMax(x, rowOff + c0, Math.min(blockCols, cols - c0));
        }
        for (int r = r0; r < r1; r++) {
            pipelineRow(x, off, rounding, rule, r, r + 1 < r1 ? -1 : piece);
        }
    }

    /**
     * One row of the pipeline. A method of its own so that the JIT compiles it (with the kernel
     * inlined) from its invocation count: as the body of a long loop it would only be reached
     * through on-stack replacement, and the first row of every call would run the kernel unoptimised.
     */
    private void pipelineRow(float[] x, int off, Rounding rounding, ScaleRule rule, int r, int lastOfPiece) {
        int nbc = blockColCount;
        int base = r * nbc;
        boolean nanBlocks = false;
        for (int j = base; j < base + nbc; j++) {
            if (!(amax[j] < Float.POSITIVE_INFINITY)) {
                if (!rule.nanForNonFinite()) {
                    throw nonFinite(x, off, rows, cols, scheme);
                }
                nanBlocks = true;
            }
        }
        blockScales(rule, amax, base, base + nbc, multipliers, scales);
        // The last row of a piece re-reads itself as "next" (from cache) into its spare amax row,
        // so the kernel always runs the same branch and never writes another piece's amax.
        if (lastOfPiece < 0) {
            QuantKernels.encodeBlocks(x, off + r * cols, cols, blockCols, multipliers, base, rounding, packed, r * cols,
                    x, off + (r + 1) * cols, amax, base + nbc);
        } else {
            QuantKernels.encodeBlocks(x, off + r * cols, cols, blockCols, multipliers, base, rounding, packed, r * cols,
                    x, off + r * cols, spare, lastOfPiece * nbc);
        }
        if (nanBlocks) {
            zeroNaNBlocks(r, r);
        }
    }

    /** Any block shape: all block amax first (and the tensor amax NVFP4 needs), then encode. */
    private void quantizeTwoPass(float[] x, int off, Rounding rounding) {
        tensorScale = computeScales(x, off, rows, cols, scheme, amax, multipliers, scales);
        boolean nanBlocks = hasNaN(scales);
        int lastBlockRow = -1;
        for (int r = 0; r < rows; r++) {
            int bi = r / blockRows;
            if (bi != lastBlockRow) {
                expand(multipliers, bi * blockColCount, blockCols, rowMultipliers, cols);
                lastBlockRow = bi;
            }
            QuantKernels.encode(x, off + r * cols, rowMultipliers, 0, cols, rounding, packed, r * cols);
            if (nanBlocks) {
                zeroNaNBlocks(r, bi);
            }
        }
    }

    private void zeroNaNBlocks(int r, int bi) {
        for (int j = 0; j < blockColCount; j++) {
            if (Float.isNaN(scales[bi * blockColCount + j])) {
                int c0 = j * blockCols;
                int c1 = Math.min(cols, c0 + blockCols);
                for (int c = c0; c < c1; c++) {
                    E2M1.setCodeAt(packed, (long) r * cols + c, 0);
                }
            }
        }
    }

    private static boolean hasNaN(float[] a) {
        for (float v : a) {
            if (v != v) {
                return true;
            }
        }
        return false;
    }

    /** Writes each block's value over its columns: dst[c] = perBlock[base + c / blockCols]. */
    private static void expand(float[] perBlock, int base, int blockCols, float[] dst, int cols) {
        if (blockCols == 1) {
            System.arraycopy(perBlock, base, dst, 0, cols);
            return;
        }
        for (int c0 = 0, j = 0; c0 < cols; c0 += blockCols, j++) {
            Arrays.fill(dst, c0, Math.min(cols, c0 + blockCols), perBlock[base + j]);
        }
    }

    /**
     * Block amax, then scales and multipliers per the scheme's rule; returns the tensor scale.
     * Throws on non-finite input (for the rules that reject it) before writing any multiplier or scale.
     */
    static float computeScales(float[] x, int off, int rows, int cols, Fp4Scheme scheme, float[] amax,
            float[] multipliers, float[] scalesOut) {
        int br = scheme.blockRowsFor(rows);
        int bc = scheme.blockColsFor(cols);
        int nbc = (cols + bc - 1) / bc;
        Arrays.fill(amax, 0f);
        for (int r = 0; r < rows; r++) {
            int base = (r / br) * nbc;
            int rowOff = off + r * cols;
            if (nbc == 1) {
                amax[base] = Math.max(amax[base], QuantKernels.absMax(x, rowOff, cols));
            } else if (bc == 1) {
                QuantKernels.absMaxInto(x, rowOff, amax, base, cols);
            } else {
                for (int j = 0, c0 = 0; j < nbc; j++, c0 += bc) {
                    float a = QuantKernels.absMax(x, rowOff + c0, Math.min(bc, cols - c0));
                    amax[base + j] = Math.max(amax[base + j], a);
                }
            }
        }
        ScaleRule rule = scheme.scaleRule();
        int blocks = multipliers.length; // amax may hold spare entries beyond the blocks
        float tensorAmax = 0f;
        for (int b = 0; b < blocks; b++) {
            tensorAmax = Math.max(tensorAmax, amax[b]);
        }
        if (!(tensorAmax < Float.POSITIVE_INFINITY) && !rule.nanForNonFinite()) {
            throw nonFinite(x, off, rows, cols, scheme);
        }
        if (rule == ScaleRule.NVFP4_4OVER6) {
            return fourOverSix(x, off, rows, cols, br, bc, nbc, amax, tensorAmax, multipliers, scalesOut);
        }
        if (rule.isTwoLevel()) {
            float sEnc = ScaleRule.nvfp4EncodeScale(tensorAmax);
            for (int b = 0; b < blocks; b++) {
                float sb = ScaleRule.nvfp4BlockScale(amax[b], sEnc);
                multipliers[b] = ScaleRule.nvfp4Multiplier(sb, sEnc);
                scalesOut[b] = sb;
            }
            return ScaleRule.nvfp4TensorScale(sEnc);
        }
        blockScales(rule, amax, 0, blocks, multipliers, scalesOut);
        return 1f;
    }

    /**
     * Four Over Six, in Transformer Engine's reference arithmetic ({@code
     * _quantize_blockwise_4over6_reference}, error mode MSE, not fast-math): with S_enc =
     * fl(6·256/amax_t) and t = fl(1/S_enc), d = fl(fl(amax_b/6)·S_enc); the candidates
     * s₄ = E4M3(min(fl(1.5·d), 448)) and s₆ = E4M3(min(d, 448)), each with multiplier
     * m = fl(1/fl(s·t)) (Float.MAX_VALUE for s = 0) and codes q = E2M1_RNE(clamp(fl(x·m), ±6)); the
     * error of a row of a block is Σ (fl(fl(fl(q·s)·amax_t)/1536) − x)² in element order, a 16×16
     * block sums its 16 rows' errors pairwise (rows i and i + 8, then i and i + 4, ...). The block
     * takes s₄ when its error is smaller, else s₆.
     */
    private static float fourOverSix(float[] x, int off, int rows, int cols, int br, int bc, int nbc, float[] amax,
            float tensorAmax, float[] multipliers, float[] scalesOut) {
        float sEnc = Math.min(6f * ScaleRule.FOUR_OVER_SIX_E4M3_MAX / tensorAmax, Float.MAX_VALUE);  // MAX for all zeros, as TE
        float t = 1f / sEnc;
        float denom = 6f * ScaleRule.FOUR_OVER_SIX_E4M3_MAX;
        int blocks = multipliers.length;
        float[] rowErr4 = new float[Math.max(br, 1)];
        float[] rowErr6 = new float[Math.max(br, 1)];
        float[] sq4 = new float[bc];
        float[] sq6 = new float[bc];
        float[] mul4 = new float[bc];
        float[] mul6 = new float[bc];
        float[] scl4 = new float[bc];
        float[] scl6 = new float[bc];
        for (int b = 0; b < blocks; b++) {
            int r0 = (b / nbc) * br;
            int c0 = (b % nbc) * bc;
            float d = (amax[b] / 6f) * sEnc;
            float s4 = E4M3.round(Math.min(d * 1.5f, E4M3.MAX));
            float s6 = E4M3.round(Math.min(d, E4M3.MAX));
            float m4 = Math.min(1f / (s4 * t), Float.MAX_VALUE);
            float m6 = Math.min(1f / (s6 * t), Float.MAX_VALUE);
            int nr = Math.min(br, rows - r0);
            int nc = Math.min(bc, cols - c0);
            java.util.Arrays.fill(mul4, m4);
            java.util.Arrays.fill(mul6, m6);
            java.util.Arrays.fill(scl4, s4);
            java.util.Arrays.fill(scl6, s6);
            java.util.Arrays.fill(rowErr4, 0f);
            java.util.Arrays.fill(rowErr6, 0f);
            for (int i = 0; i < nr; i++) {
                int o = off + (r0 + i) * cols + c0;
                QuantKernels.fourOverSixSquaredErrors(x, o, nc, mul4, 0, scl4, 0, tensorAmax, denom, sq4, 0);
                QuantKernels.fourOverSixSquaredErrors(x, o, nc, mul6, 0, scl6, 0, tensorAmax, denom, sq6, 0);
                float e4 = 0f;
                float e6 = 0f;
                for (int j = 0; j < nc; j++) {
                    e4 = e4 + sq4[j];
                    e6 = e6 + sq6[j];
                }
                rowErr4[i] = e4;
                rowErr6[i] = e6;
            }
            boolean four = br == 1 ? rowErr4[0] < rowErr6[0] : pairwiseSum(rowErr4) < pairwiseSum(rowErr6);
            float sb = four ? s4 : s6;
            scalesOut[b] = sb;
            multipliers[b] = four ? m4 : m6;                 // Float.MAX_VALUE for a zero scale, as TE
        }
        return t;
    }

    /**
     * Σ of 2^k values (zeros past the block's rows) as rows i + n/2 are folded onto rows i,
     * repeatedly, in place (the block's row errors are not needed afterwards).
     */
    private static float pairwiseSum(float[] a) {
        for (int n = a.length / 2; n >= 1; n /= 2) {
            for (int i = 0; i < n; i++) {
                a[i] = a[i] + a[i + n];
            }
        }
        return a[0];
    }

    /** Multipliers and scales of blocks [from, to) of a single-level rule from their amax. */
    private static void blockScales(ScaleRule rule, float[] amax, int from, int to, float[] multipliers,
            float[] scales) {
        boolean pow2 = rule.isPowerOfTwoRule();
        for (int b = from; b < to; b++) {
            float a = amax[b];
            if (pow2 && a > 0f && a < Float.POSITIVE_INFINITY) {
                int k = rule.multiplierExponent(a);
                multipliers[b] = ScaleRule.pow2(k);
                scales[b] = ScaleRule.pow2(-k);
            } else {
                multipliers[b] = rule.multiplier(a);
                scales[b] = rule.scale(a);
            }
        }
    }

    private static NonFiniteValueException nonFinite(float[] x, int off, int rows, int cols, Fp4Scheme scheme) {
        for (int r = 0; r < rows; r++) {
            int c = QuantKernels.firstNonFinite(x, off + r * cols, cols);
            if (c >= 0) {
                return new NonFiniteValueException("non-finite value " + x[off + r * cols + c] + " at (row " + r
                        + ", col " + c + ") of a [" + rows + ", " + cols + "] matrix: " + scheme.name()
                        + " accepts only finite input (E2M1 has no NaN or infinity)");
            }
        }
        throw new AssertionError("amax was non-finite but no element is");
    }

    /** Number of rows. */
    public int rows() {
        return rows;
    }

    /** Number of columns. */
    public int cols() {
        return cols;
    }

    /** The scheme. */
    public Fp4Scheme scheme() {
        return scheme;
    }

    /** Number of block rows, the first dimension of {@link #scales()}. */
    public int scaleRows() {
        return blockRowCount;
    }

    /** Number of block columns, the second dimension of {@link #scales()}. */
    public int scaleCols() {
        return blockColCount;
    }

    /** The 4-bit E2M1 code of one element. */
    public int code(int row, int col) {
        Objects.checkIndex(row, rows);
        Objects.checkIndex(col, cols);
        return E2M1.codeAt(packed, (long) row * cols + col);
    }

    /** The codes, two per byte, flat row-major, element 0 in the low nibble (a copy of ⌈rows·cols/2⌉ bytes). */
    public byte[] packed() {
        return packed.clone();
    }

    /** The block scales, blocks row-major [{@link #scaleRows()}, {@link #scaleCols()}] (a copy). */
    public float[] scales() {
        return scales.clone();
    }

    /** The scale of the block holding (row, col). */
    public float scale(int row, int col) {
        Objects.checkIndex(row, rows);
        Objects.checkIndex(col, cols);
        return scales[(row / blockRows) * blockColCount + col / blockCols];
    }

    /**
     * When the tensor scale and every nonzero block scale are normal powers of two, so that each
     * dequantized value is exactly E2M1(code)·2^e, writes the range of e (log2 of the smallest and
     * of the largest nonzero block scale times the tensor scale) to {@code range[0..1]} and returns
     * true; an all-zero tensor gives [0, 0]. Returns false otherwise (an NVFP4 tensor scale, E4M3
     * block scales that are not powers of two, a NaN block).
     */
    public boolean powerOfTwoScales(int[] range) {
        int t = exponentOfPowerOfTwo(tensorScale);
        if (t == Integer.MIN_VALUE) {
            return false;
        }
        int lo = Integer.MAX_VALUE;
        int hi = Integer.MIN_VALUE;
        for (float s : scales) {
            if (s == 0f) {
                continue;
            }
            int e = exponentOfPowerOfTwo(s);
            if (e == Integer.MIN_VALUE) {
                return false;
            }
            lo = Math.min(lo, e);
            hi = Math.max(hi, e);
        }
        range[0] = lo == Integer.MAX_VALUE ? 0 : lo + t;
        range[1] = hi == Integer.MIN_VALUE ? 0 : hi + t;
        return true;
    }

    /** e for a positive normal s = 2^e, else Integer.MIN_VALUE. */
    private static int exponentOfPowerOfTwo(float s) {
        int bits = Float.floatToRawIntBits(s);
        int exp = bits >>> 23;                 // sign bit 0 required: 1..254 for positive normals
        if ((bits & 0x7FFFFF) != 0 || exp == 0 || exp >= 255) {
            return Integer.MIN_VALUE;
        }
        return exp - 127;
    }

    /** The tensor scale: 1/S_enc for NVFP4, 1 otherwise. */
    public float tensorScale() {
        return tensorScale;
    }

    /** A new row-major array of the dequantized values. */
    public float[] dequantize() {
        float[] out = new float[rows * cols];
        dequantizeInto(out, 0);
        return out;
    }

    /** Writes the dequantized values to {@code dst[off, off + rows·cols)}. */
    public void dequantizeInto(float[] dst, int off) {
        Objects.checkFromIndexSize(off, rows * cols, dst.length);
        int pieces = rowPieces();
        if (pieces == 1) {
            dequantizeRows(dst, off, 0, rows);
        } else {
            // A read method may run concurrently on one tensor: the body is the calling thread's own.
            DequantizePieces body = DEQUANTIZE.get();
            body.bind(this, dst, off, pieces);
            try {
                Gemm.parallelFor(pieces, body);
            } finally {
                body.bind(null, null, 0, 0); // keep no tensor reachable from the thread
            }
        }
    }

    private void dequantizeRows(float[] dst, int off, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            decodeRow(r, 0, cols, dst, off + r * cols, true);
            if (tensorScale != 1f) {
                QuantKernels.scale(dst, off + r * cols, cols, tensorScale);
            }
        }
    }

    /**
     * Writes the E2M1 values of {@code row}'s columns [col0, col0 + len) to {@code dst[dstOff ..]},
     * multiplied by their block scales when {@code withBlockScales} (never by the tensor scale).
     * Exact: E2M1 values are exact in FP32, and so are their products with power-of-two scales.
     */
    public void decodeRow(int row, int col0, int len, float[] dst, int dstOff, boolean withBlockScales) {
        Objects.checkIndex(row, rows);
        Objects.checkFromIndexSize(col0, len, cols);
        Objects.checkFromIndexSize(dstOff, len, dst.length);
        QuantKernels.decode(packed, row * cols + col0, len, dst, dstOff);
        if (!withBlockScales) {
            return;
        }
        int base = (row / blockRows) * blockColCount;
        if (blockCols == 1) {
            QuantKernels.multiply(dst, dstOff, scales, base + col0, len);
            return;
        }
        int end = col0 + len;
        for (int c = col0; c < end; ) {
            int j = c / blockCols;
            int segEnd = Math.min(end, (j + 1) * blockCols);
            QuantKernels.scale(dst, dstOff + c - col0, segEnd - c, scales[base + j]);
            c = segEnd;
        }
    }

    /**
     * Writes y = fl(x·m), the scaled values the E2M1 rounding saw in the last quantization of
     * {@code x[off ..]} (m the block's encode multiplier: 1/scale for the power-of-two rules), to
     * {@code dst[dstOff ..]} — the input of a gradient estimator such as the DGE. {@code x} must be
     * the array last passed to {@link #quantizeFrom}; the codes are E2M1_round(y). In an NVFP4 block
     * whose scale is 0, m is Float.MAX_VALUE (Transformer Engine's multiplier) and y may be ±∞; such
     * a block decodes to 0, and an estimator should pass its gradient straight through.
     */
    public void scaledInput(float[] x, int off, float[] dst, int dstOff) {
        Objects.checkFromIndexSize(off, rows * cols, x.length);
        Objects.checkFromIndexSize(dstOff, rows * cols, dst.length);
        for (int r = 0; r < rows; r++) {
            int d = dstOff + r * cols;
            System.arraycopy(x, off + r * cols, dst, d, cols);
            int base = (r / blockRows) * blockColCount;
            if (blockCols == 1) {
                QuantKernels.multiply(dst, d, multipliers, base, cols);
            } else {
                for (int j = 0, c0 = 0; j < blockColCount; j++, c0 += blockCols) {
                    QuantKernels.scale(dst, d + c0, Math.min(blockCols, cols - c0), multipliers[base + j]);
                }
            }
        }
    }

    /**
     * As {@link #fakeQuantize(float[], int, int, int, Fp4Scheme)}, drawing stochastic-rounding
     * variates from the given stream (e.g. the training step); deterministic schemes ignore it.
     */
    public static void fakeQuantize(float[] x, int off, int rows, int cols, Fp4Scheme scheme, long stream) {
        fakeQuantize(x, off, rows, cols, scheme.withRounding(scheme.rounding().withStream(stream)));
    }

    /**
     * Quantizes and dequantizes {@code x[off, off + rows·cols)} in place (row-major [rows, cols]):
     * the result equals {@code quantize(...).dequantize()} bit for bit. Throws, leaving x unchanged,
     * where {@link #quantize} would.
     */
    public static void fakeQuantize(float[] x, int off, int rows, int cols, Fp4Scheme scheme) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(scheme, "scheme");
        checkShape(rows, cols);
        Objects.checkFromIndexSize(off, rows * cols, x.length);
        int br = scheme.blockRowsFor(rows);
        int bc = scheme.blockColsFor(cols);
        int nbr = (rows + br - 1) / br;
        int nbc = (cols + bc - 1) / bc;
        float[] amax = new float[nbr * nbc];
        float[] mult = new float[nbr * nbc];
        float[] scl = new float[nbr * nbc];
        float t = computeScales(x, off, rows, cols, scheme, amax, mult, scl);
        float[] rowMult = new float[cols];
        float[] rowScale = new float[cols];
        Rounding rounding = scheme.rounding();
        int lastBlockRow = -1;
        for (int r = 0; r < rows; r++) {
            int bi = r / br;
            if (bi != lastBlockRow) {
                expand(mult, bi * nbc, bc, rowMult, cols);
                expand(scl, bi * nbc, bc, rowScale, cols);
                lastBlockRow = bi;
            }
            QuantKernels.fakeQuantize(x, off + r * cols, rowMult, 0, rowScale, 0, cols, t, rounding, r * cols);
        }
    }

    @Override
    public String toString() {
        return "Fp4Tensor[" + rows + "x" + cols + ", " + scheme.name() + "]";
    }
}
