package dev.fp4.nn;

import dev.fp4.core.simd.Simd;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * The core of causal multi-head attention, blocked over the sequence (flash-attention style), on
 * q, k, v in the layout the projections produce: row (b, t) of q holds the heads side by side,
 * q[(b·T + t)·H·D + h·D + x] (k and v likewise with the kv heads).
 *
 * <p><b>Forward</b>, per (batch, head), per query block of {@value #BLOCK} rows: for every key block
 * at or before it (blocks after the diagonal are skipped, the diagonal block computes only j ≤ i),
 * S = q·kᵀ; with the running row maximum m and sum l (online softmax):
 * m' = max(m, max_j S), P = e^(S·c − m'·c), l ← l·e^((m − m')·c) + Σ_j P, o ← o·e^((m − m')·c) + P·v,
 * c = 1/√D. At the end o ← o / l and the row's log-sum-exp lse = m·c + ln l is kept. Only one
 * block of scores exists at a time per thread (no T×T buffer).
 *
 * <p><b>Backward</b>, per (batch, kv head) so that the heads sharing a kv head accumulate dk and dv
 * in a fixed order: Dᵢ = Σ_x dOᵢ·Oᵢ; per key block j and query block i ≥ j the scores are recomputed,
 * P = e^(S·c − lse), dP = dO·vᵀ, dS = P ⊙ (dP − D)·c, then dq += dS·k, dk += dSᵀ·q, dv += Pᵀ·dO.
 *
 * <p><b>Reproducibility.</b> Every output element is a chain of fused multiply-adds in a fixed
 * order (over the head dimension for scores, over keys or queries for the products); the row
 * reductions (max, Σ P, D) use the canonical order of {@link VectorOps}; exponentials are
 * {@link VectorOps#exp}'s bits. The vector kernels and their scalar twins therefore agree bit for
 * bit, and (batch, head) items are independent, so the results do not depend on the vector width
 * or the thread count.
 *
 * <p>One instance per attention layer (it holds the arguments of the current call so that the
 * parallel loop allocates nothing); not thread-safe.
 */
public final class FlashAttention {
    /** Query and key block size. */
    public static final int BLOCK = 64;

    private final int heads;
    private final int kvHeads;
    private final int hd;
    private final float scale;
    private final boolean vector;
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);
    private final IntConsumer forwardItem = this::forwardHead;
    private final IntConsumer backwardItem = this::backwardKvHead;

    // Arguments of the current call.
    private float[] q;
    private float[] k;
    private float[] v;
    private float[] o;
    private float[] lse;
    private float[] dout;
    private float[] dq;
    private float[] dk;
    private float[] dv;
    private int seq;

    /** Attention over {@code heads} query heads of width {@code headDim} sharing {@code kvHeads} kv heads. */
    public FlashAttention(int heads, int kvHeads, int headDim) {
        this(heads, kvHeads, headDim, Simd.ENABLED);
    }

    /** As above, with the vector kernels or (for tests) their scalar twins. */
    FlashAttention(int heads, int kvHeads, int headDim, boolean vector) {
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || headDim <= 0) {
            throw new IllegalArgumentException("need heads and kvHeads positive with kvHeads dividing heads and a"
                    + " positive head dimension, got heads " + heads + ", kvHeads " + kvHeads + ", headDim " + headDim);
        }
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.hd = headDim;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.vector = vector;
    }

    /** Per-thread scratch, grown on demand. */
    private static final class Scratch {
        float[] kt = new float[0];   // kᵀ of one kv head [D, T]
        float[] vt = new float[0];   // vᵀ of one kv head [D, T]
        float[] s = new float[BLOCK * BLOCK];
        float[] dp = new float[BLOCK * BLOCK];
        float[] acc = new float[0];  // output rows of one query block [BLOCK, D]
        float[] m = new float[BLOCK];
        float[] l = new float[BLOCK];
        float[] d = new float[0];    // Dᵢ of one head [T]

        void ensure(int hd, int seq) {
            kt = Workspace.grow(kt, (long) hd * seq);
            vt = Workspace.grow(vt, (long) hd * seq);
            acc = Workspace.grow(acc, (long) BLOCK * hd);
            d = Workspace.grow(d, seq);
        }
    }

    /**
     * o = attention(q, k, v) for {@code batch} sequences of {@code seq} tokens; writes each row's
     * log-sum-exp into lse[(b·H + h)·T + t]. q, o: [batch·seq, H·D]; k, v: [batch·seq, KV·D].
     */
    public void forward(float[] q, float[] k, float[] v, float[] o, float[] lse, int batch, int seq) {
        checkShapes(q, k, v, o, lse, batch, seq);
        this.q = q;
        this.k = k;
        this.v = v;
        this.o = o;
        this.lse = lse;
        this.seq = seq;
        Parallel.forEach(batch * heads, forwardItem);
    }

    /**
     * The gradients dq, dk, dv (written, not accumulated; same layouts as q, k, v) from dO, given the
     * q, k, v, o and lse of the forward.
     */
    public void backward(float[] q, float[] k, float[] v, float[] o, float[] lse, float[] dout,
                         float[] dq, float[] dk, float[] dv, int batch, int seq) {
        checkShapes(q, k, v, o, lse, batch, seq);
        long n = (long) batch * seq;
        need(dout, n * heads * hd, "dO");
        need(dq, n * heads * hd, "dq");
        need(dk, n * kvHeads * hd, "dk");
        need(dv, n * kvHeads * hd, "dv");
        this.q = q;
        this.k = k;
        this.v = v;
        this.o = o;
        this.lse = lse;
        this.dout = dout;
        this.dq = dq;
        this.dk = dk;
        this.dv = dv;
        this.seq = seq;
        Parallel.forEach(batch * kvHeads, backwardItem);
    }

    private void checkShapes(float[] q, float[] k, float[] v, float[] o, float[] lse, int batch, int seq) {
        if (batch <= 0 || seq <= 0) {
            throw new IllegalArgumentException("batch and seq must be positive, got " + batch + ", " + seq);
        }
        long n = (long) batch * seq;
        need(q, n * heads * hd, "q");
        need(k, n * kvHeads * hd, "k");
        need(v, n * kvHeads * hd, "v");
        need(o, n * heads * hd, "o");
        need(lse, n * heads, "lse");
    }

    private static void need(float[] a, long size, String name) {
        if (a == null || a.length < size) {
            throw new IllegalArgumentException(name + " needs " + size + " elements, got "
                    + (a == null ? "null" : a.length));
        }
    }

    /**
     * kᵀ [D, T] of kv head {@code kvh} of sequence {@code b}, 8 rows of kᵀ at a time: 8 write
     * streams along t, where all D rows at once (seq = 256: 1 KiB apart) overfill L1's sets.
     */
    private void transposeHead(float[] src, int b, int kvh, float[] dst) {
        int ld = kvHeads * hd;
        int base = b * seq * ld + kvh * hd;
        for (int x0 = 0; x0 < hd; x0 += 8) {
            int x1 = Math.min(hd, x0 + 8);
            for (int t = 0; t < seq; t++) {
                int row = base + t * ld;
                for (int x = x0; x < x1; x++) {
                    dst[x * seq + t] = src[row + x];
                }
            }
        }
    }

    private void forwardHead(int item) {
        int b = item / heads;
        int h = item % heads;
        int kvh = h / (heads / kvHeads);
        int ldq = heads * hd;
        int ldk = kvHeads * hd;
        Scratch sc = scratch.get();
        sc.ensure(hd, seq);
        transposeHead(k, b, kvh, sc.kt);
        float[] s = sc.s;
        float[] acc = sc.acc;
        float[] m = sc.m;
        float[] l = sc.l;
        int qBase = b * seq * ldq + h * hd;
        int kvBase = b * seq * ldk + kvh * hd;
        int lseBase = (b * heads + h) * seq;
        for (int i0 = 0; i0 < seq; i0 += BLOCK) {
            int rows = Math.min(BLOCK, seq - i0);
            Arrays.fill(m, 0, rows, Float.NEGATIVE_INFINITY);
            Arrays.fill(l, 0, rows, 0f);
            Arrays.fill(acc, 0, rows * hd, 0f);
            for (int j0 = 0; j0 <= i0; j0 += BLOCK) {
                int cols = Math.min(BLOCK, seq - j0);
                boolean diag = j0 == i0;
                scores(q, qBase + i0 * ldq, ldq, rows, sc.kt, j0, seq, cols, hd, diag ? 1 : cols, s, BLOCK, vector);
                for (int r = 0; r < rows; r++) {
                    int cnt = diag ? r + 1 : cols;
                    int so = r * BLOCK;
                    float mOld = m[r];
                    float mNew = Math.max(mOld, VectorOps.max(s, so, cnt));
                    float shift = mNew * scale;
                    expShifted(s, so, cnt, scale, shift, vector);
                    float sum = vector ? VectorOpsPanama.sumVector(s, so, cnt) : VectorOps.sumScalar(s, so, cnt);
                    if (mNew != mOld) {
                        float alpha = VectorOps.exp(Math.fma(mOld, scale, -shift));
                        l[r] *= alpha;
                        VectorOps.scale(acc, r * hd, hd, alpha);
                        m[r] = mNew;
                    }
                    l[r] += sum;
                }
                // acc += P·v, four rows at a time (on the diagonal row r has r + 1 terms).
                int vOff = kvBase + j0 * ldk;
                int r = 0;
                for (; r + 4 <= rows; r += 4) {
                    accumulate4(s, r * BLOCK, BLOCK, 1, 0, 0, diag ? r + 1 : cols, diag ? 1 : 0,
                            v, vOff, ldk, hd, acc, r * hd, hd, vector);
                }
                for (; r < rows; r++) {
                    accumulate(s, r * BLOCK, 1, diag ? r + 1 : cols, v, vOff, ldk, hd, acc, r * hd, vector);
                }
            }
            for (int r = 0; r < rows; r++) {
                float inv = 1f / l[r];
                int dst = qBase + (i0 + r) * ldq;
                for (int x = 0; x < hd; x++) {
                    o[dst + x] = acc[r * hd + x] * inv;
                }
                lse[lseBase + i0 + r] = (float) (m[r] * (double) scale + StrictMath.log(l[r]));
            }
        }
    }

    private void backwardKvHead(int item) {
        int b = item / kvHeads;
        int kvh = item % kvHeads;
        int group = heads / kvHeads;
        int ldq = heads * hd;
        int ldk = kvHeads * hd;
        Scratch sc = scratch.get();
        sc.ensure(hd, seq);
        transposeHead(k, b, kvh, sc.kt);
        transposeHead(v, b, kvh, sc.vt);
        float[] s = sc.s;
        float[] dp = sc.dp;
        float[] d = sc.d;
        int kvBase = b * seq * ldk + kvh * hd;
        for (int t = 0; t < seq; t++) {
            Arrays.fill(dk, kvBase + t * ldk, kvBase + t * ldk + hd, 0f);
            Arrays.fill(dv, kvBase + t * ldk, kvBase + t * ldk + hd, 0f);
        }
        for (int g = 0; g < group; g++) {
            int h = kvh * group + g;
            int qBase = b * seq * ldq + h * hd;
            int lseBase = (b * heads + h) * seq;
            for (int t = 0; t < seq; t++) {
                int row = qBase + t * ldq;
                d[t] = vector ? VectorOpsPanama.dotVector(dout, row, o, row, hd) : VectorOps.dotScalar(dout, row, o, row, hd);
                Arrays.fill(dq, row, row + hd, 0f);
            }
            for (int j0 = 0; j0 < seq; j0 += BLOCK) {
                int cols = Math.min(BLOCK, seq - j0);
                for (int i0 = j0; i0 < seq; i0 += BLOCK) {
                    int rows = Math.min(BLOCK, seq - i0);
                    boolean diag = i0 == j0;
                    int limit = diag ? 1 : cols;
                    int qRows = qBase + i0 * ldq;
                    scores(q, qRows, ldq, rows, sc.kt, j0, seq, cols, hd, limit, s, BLOCK, vector);
                    scores(dout, qRows, ldq, rows, sc.vt, j0, seq, cols, hd, limit, dp, BLOCK, vector);
                    for (int r = 0; r < rows; r++) {
                        int i = i0 + r;
                        probsAndGrad(s, dp, r * BLOCK, diag ? r + 1 : cols, scale, lse[lseBase + i], d[i], vector);
                    }
                    // dq += dS·k, four query rows at a time.
                    int kOff = kvBase + j0 * ldk;
                    int r = 0;
                    for (; r + 4 <= rows; r += 4) {
                        accumulate4(dp, r * BLOCK, BLOCK, 1, 0, 0, diag ? r + 1 : cols, diag ? 1 : 0,
                                k, kOff, ldk, hd, dq, qBase + (i0 + r) * ldq, ldq, vector);
                    }
                    for (; r < rows; r++) {
                        accumulate(dp, r * BLOCK, 1, diag ? r + 1 : cols, k, kOff, ldk, hd, dq, qBase + (i0 + r) * ldq,
                                vector);
                    }
                    // dv += Pᵀ·dO and dk += dSᵀ·q, four keys at a time (on the diagonal key c
                    // collects the rows from c on).
                    int c = 0;
                    for (; c + 4 <= cols; c += 4) {
                        int j = kvBase + (j0 + c) * ldk;
                        int lo = diag ? c : 0;
                        int dLo = diag ? 1 : 0;
                        accumulate4(s, c, 1, BLOCK, lo, dLo, rows, 0, dout, qRows, ldq, hd, dv, j, ldk, vector);
                        accumulate4(dp, c, 1, BLOCK, lo, dLo, rows, 0, q, qRows, ldq, hd, dk, j, ldk, vector);
                    }
                    for (; c < cols; c++) {
                        int start = diag ? c : 0;
                        int j = kvBase + (j0 + c) * ldk;
                        int src = qRows + start * ldq;
                        accumulate(s, start * BLOCK + c, BLOCK, rows - start, dout, src, ldq, hd, dv, j, vector);
                        accumulate(dp, start * BLOCK + c, BLOCK, rows - start, q, src, ldq, hd, dk, j, vector);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- kernels

    /**
     * Scores of a block: s[r·lds + c] = Σ_{p<d} a[aOff + r·lda + p] · bt[btOff + p·ldb + c], the sum
     * in increasing p with one fused multiply-add per term, for r < rows and
     * c < min(cols, r + limit) (limit = 1 gives the causal diagonal block, limit ≥ cols the whole
     * block). Elements outside that region may be written with unspecified values.
     */
    static void scores(float[] a, int aOff, int lda, int rows, float[] bt, int btOff, int ldb, int cols, int d,
                       int limit, float[] s, int lds, boolean vector) {
        if (vector) {
            FlashAttentionPanama.scoresVector(a, aOff, lda, rows, bt, btOff, ldb, cols, d, limit, s, lds);
        } else {
            scoresScalar(a, aOff, lda, rows, bt, btOff, ldb, cols, d, limit, s, lds);
        }
    }

    static void scoresScalar(float[] a, int aOff, int lda, int rows, float[] bt, int btOff, int ldb, int cols,
                             int d, int limit, float[] s, int lds) {
        for (int r = 0; r < rows; r++) {
            int n = Math.min(cols, r + limit);
            for (int c = 0; c < n; c++) {
                s[r * lds + c] = dotColumn(a, aOff + r * lda, bt, btOff + c, ldb, d);
            }
        }
    }

    /** Σ_{p<d} a[aOff + p]·bt[btOff + p·ldb], in increasing p, one fma per term. */
    static float dotColumn(float[] a, int aOff, float[] bt, int btOff, int ldb, int d) {
        float acc = 0f;
        for (int p = 0; p < d; p++) {
            acc = Math.fma(a[aOff + p], bt[btOff + p * ldb], acc);
        }
        return acc;
    }

    /**
     * o[oOff + x] += Σ_{i<n} p[pOff + i·pStride] · v[vOff + i·ldv + x] for x < d, the sum over
     * increasing i with one fused multiply-add per term onto the running o.
     */
    static void accumulate(float[] p, int pOff, int pStride, int n, float[] v, int vOff, int ldv, int d,
                           float[] o, int oOff, boolean vector) {
        if (vector) {
            FlashAttentionPanama.accumulateVector(p, pOff, pStride, n, v, vOff, ldv, d, o, oOff);
        } else {
            accumulateScalar(p, pOff, pStride, n, v, vOff, ldv, d, o, oOff);
        }
    }

    static void accumulateScalar(float[] p, int pOff, int pStride, int n, float[] v, int vOff, int ldv, int d,
                                 float[] o, int oOff) {
        for (int x = 0; x < d; x++) {
            o[oOff + x] = accumulateOne(p, pOff, pStride, n, v, vOff + x, ldv, o[oOff + x]);
        }
    }

    static float accumulateOne(float[] p, int pOff, int pStride, int n, float[] v, int vOff, int ldv,
                                       float acc) {
        for (int i = 0; i < n; i++) {
            acc = Math.fma(p[pOff + i * pStride], v[vOff + i * ldv], acc);
        }
        return acc;
    }

    /**
     * Four outputs at once: for k = 0..3, o[oOff + k·ldo + x] += Σ_{i in [lo + k·dLo, hi + k·dHi)}
     * p[pOff + k·pK + i·pI] · v[vOff + i·ldv + x], x < d, each sum over increasing i with one fused
     * multiply-add per term (the same chain as {@link #accumulate} on each output; the range where
     * all four are active runs with shared loads of v).
     */
    static void accumulate4(float[] p, int pOff, int pK, int pI, int lo, int dLo, int hi, int dHi,
                            float[] v, int vOff, int ldv, int d, float[] o, int oOff, int ldo, boolean vector) {
        if (vector) {
            FlashAttentionPanama.accumulate4Vector(p, pOff, pK, pI, lo, dLo, hi, dHi, v, vOff, ldv, d, o, oOff, ldo);
        } else {
            for (int k = 0; k < 4; k++) {
                int from = lo + k * dLo;
                int to = hi + k * dHi;
                if (to > from) {
                    accumulateScalar(p, pOff + k * pK + from * pI, pI, to - from, v, vOff + from * ldv, ldv, d,
                            o, oOff + k * ldo);
                }
            }
        }
    }

    /** s[off + i] = e^(fma(s[off + i], scale, −shift)) for i < n, with {@link VectorOps#exp}'s bits. */
    static void expShifted(float[] s, int off, int n, float scale, float shift, boolean vector) {
        if (vector) {
            FlashAttentionPanama.expShiftedVector(s, off, n, scale, shift);
        } else {
            expShiftedScalar(s, off, n, scale, shift);
        }
    }

    static void expShiftedScalar(float[] s, int off, int n, float scale, float shift) {
        float neg = -shift;
        for (int i = 0; i < n; i++) {
            s[off + i] = VectorOps.exp(Math.fma(s[off + i], scale, neg));
        }
    }

    /**
     * The backward's row step: P = e^(fma(s, scale, −lse)) written over s, and
     * dS = (P·(dp − di))·scale written over dp, for i < n.
     */
    static void probsAndGrad(float[] s, float[] dp, int off, int n, float scale, float lse, float di, boolean vector) {
        if (vector) {
            FlashAttentionPanama.probsAndGradVector(s, dp, off, n, scale, lse, di);
        } else {
            probsAndGradScalar(s, dp, off, n, scale, lse, di);
        }
    }

    static void probsAndGradScalar(float[] s, float[] dp, int off, int n, float scale, float lse, float di) {
        float neg = -lse;
        for (int i = 0; i < n; i++) {
            float pi = VectorOps.exp(Math.fma(s[off + i], scale, neg));
            s[off + i] = pi;
            dp[off + i] = pi * (dp[off + i] - di) * scale;
        }
    }
}
