package dev.fp4.core.gemm;

import dev.fp4.core.simd.Simd;

/**
 * The blocked GeMM engine behind {@link FloatGemm} and {@link Fp4Gemm} (GotoBLAS/BLIS structure).
 *
 * <p>Loops, outermost first: column blocks jc of NC columns of C (the right operand packed for the
 * whole reduction into NR-wide panels); row blocks ic of MC rows; reduction blocks pc of KC steps
 * (the left operand's MR-row panels); then NR-wide and MR-tall micro-tiles computed by
 * the register-blocked kernel ({@code GemmEnginePanama.kernel}). An FP32 left operand is read in
 * place (whole MR-row tiles; by rows, or MR values per reduction step when it is k-major); an FP4
 * one is decoded into row-major or reduction-major panels, and so are the tiles past the last whole
 * MR rows.
 * Each thread owns its packing buffers and a C block buffer (MC × NC) that the kernel reads and
 * writes at full tile size, so edges need no masks: packing pads with zeros and only the valid part
 * of the block buffer is copied out.
 *
 * <p>Determinism: every element of C is one FMA chain over p = 0, 1, ..., k−1 in increasing order
 * (the chain goes through the block buffer between reduction blocks), started from zero or, for
 * FP32 NN/TN accumulation, from the old value of C. Blocking and threads only decide which thread
 * runs which chain, never the order inside it, so the result equals {@link FloatGemmReference} bit
 * for bit. In the scaled mode (FP4 operands, and FP32 NT accumulation with factors 1) the chain
 * starts from zero and the epilogue writes C = (C +) chain · (outerA[i] · outerB[j]).
 */
final class GemmEngine {

    /** Float lanes per vector (4 in scalar mode, only to size the tiles). */
    static final int L = Simd.ENABLED ? Simd.FLOAT_LANES : 4;
    /** Rows of a micro-tile. */
    static final int MR = 6;
    /** Columns of a micro-tile: four vectors. */
    static final int NR = 4 * L;
    /** Reduction steps per packed left-operand block (fixed: it never changes a result). */
    static final int KC = Math.max(1, Integer.getInteger("fp4.gemm.kc", 384));
    /** Rows per block of C. */
    static final int MC = roundUp(Math.max(1, Integer.getInteger("fp4.gemm.mc", 96)), MR);
    /**
     * Rows per block of C when the left operand is stored [K, M] (TN): packing then reads MC
     * contiguous floats from each of KC rows, and short rows far apart defeat the prefetcher
     * (measured on K = 4096, M = 768: 62 GFLOP/s at 96 rows, 83 at 768). The packed block then
     * lives in L3, which the kernel's light A stream (MR floats per step against 4 vectors of B)
     * tolerates.
     */
    static final int MC_KMAJOR = roundUp(Math.max(1, Integer.getInteger("fp4.gemm.mc.kmajor", 768)), MR);
    /** Most columns per block of C. */
    static final int NC = roundUp(Math.max(1, Integer.getInteger("fp4.gemm.nc", 512)), NR);
    // The blocking sizes can be overridden with system properties for tuning; they never change a
    // result, only speed.
    /** Most floats of the packed right operand (k × nc) per column block. */
    static final int B_FLOATS = Integer.getInteger("fp4.gemm.bfloats", 1 << 21);
    /**
     * Most columns per block, and most packed right-operand floats, when the left operand is decoded
     * from FP4: it is decoded again for every column block, so wider blocks (8 MiB of packed B, in
     * the shared L3) decode it once for the usual training shapes.
     */
    static final int NC_DECODED = roundUp(Math.max(1, Integer.getInteger("fp4.gemm.nc.decoded", 2048)), NR);
    /** Packed right-operand budget (floats) when the left operand is decoded from FP4. */
    static final int B_FLOATS_DECODED = Integer.getInteger("fp4.gemm.bfloats.decoded", 1 << 21);
    /** Below this many multiply-adds a GeMM runs on the calling thread. */
    static final long PARALLEL_MIN = 1L << 20;
    /**
     * Row pieces per thread when C is split along M: more pieces even out threads that run at
     * different speeds, each piece re-reads the shared packed B from cache.
     */
    static final int ROW_PIECES_PER_THREAD = Math.max(1, Integer.getInteger("fp4.gemm.pieces", 2));

    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

    private GemmEngine() {
    }

    static int roundUp(int x, int q) {
        return (x + q - 1) / q * q;
    }

    /** Per-thread buffers, grown on demand and then reused: no allocation per call afterwards. */
    static final class Workspace {
        float[] apack = new float[0];
        float[] bpack = new float[0];
        float[] cblock = new float[0];
        float[] tmp = new float[0];
        private Call[] calls = new Call[2];
        private int depth;

        /** A call descriptor for the current nesting depth (a GeMM inside a GeMM task is possible). */
        Call acquire() {
            if (depth == calls.length) {
                calls = java.util.Arrays.copyOf(calls, depth * 2);
            }
            Call c = calls[depth];
            if (c == null) {
                c = new Call();
                calls[depth] = c;
            }
            depth++;
            return c;
        }

        void release(Call c) {
            c.clear();
            depth--;
        }

        void ensure(int k, int mc, int nc) {
            if (bpack.length < nc * k) {
                bpack = new float[nc * k];
            }
            ensureRows(k, mc, nc);
        }

        /** As {@link #ensure} without the right operand's buffer (packed into the call's shared one). */
        void ensureRows(int k, int mc, int nc) {
            int a = mc * KC;
            if (apack.length < a) {
                apack = new float[a];
            }
            if (cblock.length < mc * nc) {
                cblock = new float[mc * nc];
            }
            int t = Math.max(GemmOperand.Fp4.GROUP * Math.max(k, KC), Math.max(mc, nc));
            if (tmp.length < t) {
                tmp = new float[t];
            }
        }
    }

    /** Columns per block for reduction length k: at most max, fewer when k × nc would exceed budget. */
    static int columnBlock(int k, int max, int budget) {
        int nc = Math.min(max, Math.max(1, budget / Math.max(1, k)));
        return Math.max(NR, nc / NR * NR);
    }

    /** Everything one GeMM call needs; reused per thread and nesting depth. */
    static final class Call {
        final GemmOperand.Floats floatsA = new GemmOperand.Floats();
        final GemmOperand.Floats floatsB = new GemmOperand.Floats();
        final GemmOperand.Fp4 fp4A = new GemmOperand.Fp4();
        final GemmOperand.Fp4 fp4B = new GemmOperand.Fp4();
        GemmOperand a;
        GemmOperand b;
        float[] c;
        int cOff;
        int m;
        int n;
        int k;
        boolean accumulate;
        /** false: FMA chains start from C when accumulating (FP32); true: C (+)= chain · outer scales. */
        boolean scaled;
        float[] outerA = new float[0];
        float[] outerB = new float[0];
        /** Columns of C per column part (a multiple of NR; split along N). */
        int partCols;
        /** The right operand's current column block, packed once for all threads (split along M). */
        float[] bshared = new float[0];
        int sharedJc;
        int sharedNc;
        int pieces;
        /** Bound once: handing them to {@link Gemm#parallelFor} allocates no lambda per call. */
        final java.util.function.IntConsumer packPanel = this::packPanel;
        final java.util.function.IntConsumer rowPiece = this::rowPiece;
        final java.util.function.IntConsumer columnPart = this::columnPart;

        /** Column part i of C (all rows), on one thread with its own buffers (split along N). */
        void columnPart(int i) {
            int n0 = i * partCols;
            block(this, 0, m, n0, Math.min(n, n0 + partCols), WORKSPACE.get());
        }

        /** Packs panel i (NR columns) of the current column block into {@link #bshared}. */
        void packPanel(int i) {
            Workspace ws = WORKSPACE.get();
            ws.ensureRows(k, rowBlock(this), columnBlock(this));
            int p0 = i * NR;
            b.pack(bshared, i * k * NR, sharedJc + p0, Math.min(NR, sharedNc - p0), 0, k, NR, ws.tmp);
        }

        /** Rows of row piece i (whole micro-tiles) against the current shared column block. */
        void rowPiece(int i) {
            Workspace ws = WORKSPACE.get();
            ws.ensureRows(k, rowBlock(this), columnBlock(this));
            int tiles = (m + MR - 1) / MR;
            int lo = MR * Gemm.splitPoint(tiles, i, pieces);
            int hi = i == pieces - 1 ? m : MR * Gemm.splitPoint(tiles, i + 1, pieces);
            rows(this, lo, hi, sharedJc, sharedNc, bshared, ws);
        }

        void clear() {
            floatsA.clear();
            floatsB.clear();
            fp4A.clear();
            fp4B.clear();
            a = null;
            b = null;
            c = null;
        }

        void prepareScales() {
            if (!scaled) {
                return;
            }
            if (outerA.length < m) {
                outerA = new float[m];
            }
            if (outerB.length < n) {
                outerB = new float[n];
            }
            for (int i = 0; i < m; i++) {
                outerA[i] = a.outer(i);
            }
            for (int j = 0; j < n; j++) {
                outerB[j] = b.outer(j);
            }
        }
    }

    static Call acquire() {
        return WORKSPACE.get().acquire();
    }

    static void release(Call call) {
        WORKSPACE.get().release(call);
    }

    /**
     * Runs a configured call (operands, C, shape, flags set; k ≥ 1, m, n ≥ 1): on the calling thread
     * when small, single-threaded or nested in parallel work ({@link Gemm#nested}); else, when C has
     * at least as many rows as columns (or too few column tiles), in row pieces against a right
     * operand packed once ({@link #splitRows}); else in {@link Gemm#threads()} column rectangles,
     * each of which packs the whole left operand again (O(m · k) against O(m · n · k / parts) of
     * arithmetic).
     */
    static void run(Call call) {
        call.prepareScales();
        int m = call.m;
        int n = call.n;
        int threads = Gemm.threads();
        long work = (long) m * n * call.k;
        int tilesM = (m + MR - 1) / MR;
        int tilesN = (n + NR - 1) / NR;
        if (threads == 1 || work < PARALLEL_MIN || Gemm.nested() || (tilesM < 2 && tilesN < 2)) {
            block(call, 0, m, 0, n, WORKSPACE.get());
            return;
        }
        boolean splitM = tilesM >= threads ? (m >= n || tilesN < threads) : tilesM >= tilesN;
        if (splitM) {
            splitRows(call, threads, tilesM);
            return;
        }
        // Column rectangles of whole NR-wide tiles, one per thread.
        int count = Math.min(threads, tilesN);
        int per = (tilesN + count - 1) / count;
        count = (tilesN + per - 1) / per;
        call.partCols = per * NR;
        Gemm.parallelFor(count, call.columnPart);
    }

    /**
     * The split along M. Per column block, the right operand is packed once into the call's shared
     * buffer (its panels split over the threads), then pieces of whole micro-tile rows are handed out
     * one at a time ({@link Gemm#parallelFor}): no thread packs B again, and a thread that is slowed
     * down (the VM, another process) just takes fewer pieces. Each element of C is still one chain
     * run by one thread: the same bits as any other split.
     */
    static void splitRows(Call call, int threads, int tilesM) {
        int k = call.k;
        int ncMax = columnBlock(call);
        call.pieces = Math.min(tilesM, ROW_PIECES_PER_THREAD * threads);
        for (int jc = 0; jc < call.n; jc += ncMax) {
            int nc = Math.min(ncMax, call.n - jc);
            int panels = (nc + NR - 1) / NR;
            if (call.bshared.length < panels * k * NR) {
                call.bshared = new float[panels * k * NR];
            }
            call.sharedJc = jc;
            call.sharedNc = nc;
            Gemm.parallelFor(panels, call.packPanel);
            Gemm.parallelFor(call.pieces, call.rowPiece);
        }
    }

    /** C[m0..m1, n0..n1) of a call, on one thread with its own buffers. */
    static void block(Call call, int m0, int m1, int n0, int n1, Workspace ws) {
        final int k = call.k;
        final int ncMax = columnBlock(call);
        ws.ensure(k, rowBlock(call), ncMax);
        for (int jc = n0; jc < n1; jc += ncMax) {
            int nc = Math.min(ncMax, n1 - jc);
            call.b.pack(ws.bpack, 0, jc, nc, 0, k, NR, ws.tmp);
            rows(call, m0, m1, jc, nc, ws.bpack, ws);
        }
    }

    /** Columns per block of C for a call: wider when the left operand is decoded from FP4. */
    static int columnBlock(Call call) {
        return call.a instanceof GemmOperand.Fp4
                ? columnBlock(call.k, NC_DECODED, B_FLOATS_DECODED) : columnBlock(call.k, NC, B_FLOATS);
    }

    /** Rows per block of C for a call. */
    static int rowBlock(Call call) {
        return call.a.kMajor ? MC_KMAJOR : MC;
    }

    /**
     * C[m0..m1, jc..jc+nc) of a call from the right operand's columns jc..jc+nc already packed in
     * {@code bpack} (NR-wide panels over the whole reduction); the left operand is packed into the
     * thread's own buffer. {@code ws} must be {@link Workspace#ensure ensured} for the call.
     */
    static void rows(Call call, int m0, int m1, int jc, int nc, float[] bpack, Workspace ws) {
        final int k = call.k;
        final int n = call.n;
        final float[] c = call.c;
        final int cOff = call.cOff;
        final boolean scaled = call.scaled;
        final boolean fromC = !scaled && call.accumulate;
        final int mcMax = rowBlock(call);
        final float[] apack = ws.apack;
        final float[] cb = ws.cblock;
        final float[] tmp = ws.tmp;
        final int ncp = roundUp(nc, NR);
        // An FP32 left operand is read in place, MR rows at a time (packing would copy each element
        // once per column block for nothing): by rows, or, k-major, MR values per reduction step at
        // the operand's stride (TN 512 × 1376 × 1024: 158 → 177 GFLOP/s against packing it). FP4 is
        // decoded row by row into row-major panels, or k-major into reduction-major panels (MR
        // values per step, moved with one masked vector per row of the source); so are an FP32
        // operand's rows past the last whole MR.
        final boolean rowsA = !call.a.kMajor;
        final GemmOperand.Floats direct = call.a instanceof GemmOperand.Floats f ? f : null;
        for (int ic = m0; ic < m1; ic += mcMax) {
            int mc = Math.min(mcMax, m1 - ic);
            if (fromC) {
                for (int i = 0; i < mc; i++) {
                    System.arraycopy(c, cOff + (ic + i) * n + jc, cb, i * ncp, nc);
                }
            }
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                // Rows [0, inPlace) of the block are read from the operand, the rest packed.
                int inPlace = direct == null ? 0 : mc / MR * MR;
                if (inPlace < mc && rowsA) {
                    call.a.packRows(apack, 0, ic + inPlace, mc - inPlace, pc, kc, MR);
                } else if (inPlace < mc) {
                    call.a.pack(apack, 0, ic + inPlace, mc - inPlace, pc, kc, MR, tmp);
                }
                boolean load = pc > 0 || fromC;
                for (int jp = 0; jp * NR < nc; jp++) {
                    int bo = jp * k * NR + pc * NR;
                    for (int r0 = 0; r0 < mc; r0 += MR) {
                        float[] a = apack;
                        int ao = (r0 - inPlace) * kc;
                        int lda = rowsA ? kc : MR;
                        if (r0 < inPlace) {
                            a = direct.a;
                            ao = rowsA ? direct.off + (ic + r0) * direct.ld + pc : direct.off + pc * direct.ld + ic + r0;
                            lda = direct.ld;
                        }
                        int co = r0 * ncp + jp * NR;
                        if (Simd.ENABLED && rowsA) {
                            GemmEnginePanama.kernel(kc, a, ao, lda, bpack, bo, cb, co, ncp, load);
                        } else if (Simd.ENABLED) {
                            GemmEnginePanama.kernelPanels(kc, a, ao, lda, bpack, bo, cb, co, ncp, load);
                        } else {
                            kernelScalar(kc, a, ao, lda, rowsA, bpack, bo, cb, co, ncp, load);
                        }
                    }
                }
            }
            if (scaled) {
                final float[] oa = call.outerA;
                final float[] ob = call.outerB;
                final boolean acc = call.accumulate;
                for (int i = 0; i < mc; i++) {
                    float si = oa[ic + i];
                    int ci = cOff + (ic + i) * n + jc;
                    int bi = i * ncp;
                    if (acc) {
                        for (int j = 0; j < nc; j++) {
                            c[ci + j] += cb[bi + j] * (si * ob[jc + j]);
                        }
                    } else {
                        for (int j = 0; j < nc; j++) {
                            c[ci + j] = cb[bi + j] * (si * ob[jc + j]);
                        }
                    }
                }
            } else {
                for (int i = 0; i < mc; i++) {
                    System.arraycopy(cb, i * ncp, c, cOff + (ic + i) * n + jc, nc);
                }
            }
        }
    }

    /** Scalar twin of {@code GemmEnginePanama.kernel}: the same FMA chains in the same order. */
    static void kernelScalar(int kc, float[] a, int ao, int lda, boolean rowsA, float[] b, int bo, float[] c, int co,
            int ldc, boolean load) {
        for (int r = 0; r < MR; r++) {
            for (int j = 0; j < NR; j++) {
                int ci = co + r * ldc + j;
                float acc = load ? c[ci] : 0f;
                for (int p = 0; p < kc; p++) {
                    acc = Math.fma(a[rowsA ? ao + r * lda + p : ao + p * lda + r], b[bo + p * NR + j], acc);
                }
                c[ci] = acc;
            }
        }
    }
}
