package dev.fp4.nn;

import dev.fp4.core.simd.Simd;
import java.util.Arrays;
import java.util.function.IntConsumer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

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

    private static final VectorSpecies<Float> S = Simd.FLOAT;
    private static final int L = S.length();

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

    /** kᵀ [D, T] of kv head {@code kvh} of sequence {@code b}. */
    private void transposeHead(float[] src, int b, int kvh, float[] dst) {
        int ld = kvHeads * hd;
        int base = b * seq * ld + kvh * hd;
        for (int t = 0; t < seq; t++) {
            int row = base + t * ld;
            for (int x = 0; x < hd; x++) {
                dst[x * seq + t] = src[row + x];
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
                    float sum = vector ? VectorOps.sumVector(s, so, cnt) : VectorOps.sumScalar(s, so, cnt);
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
                d[t] = vector ? VectorOps.dotVector(dout, row, o, row, hd) : VectorOps.dotScalar(dout, row, o, row, hd);
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
            scoresVector(a, aOff, lda, rows, bt, btOff, ldb, cols, d, limit, s, lds);
        } else {
            scoresScalar(a, aOff, lda, rows, bt, btOff, ldb, cols, d, limit, s, lds);
        }
    }

    static void scoresVector(float[] a, int aOff, int lda, int rows, float[] bt, int btOff, int ldb, int cols,
                             int d, int limit, float[] s, int lds) {
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int n = Math.min(cols, r + 3 + limit); // columns the last row of the group needs
            // Whole vectors up to n rounded up (the extra columns are outside the region, allowed to
            // hold anything, and within the block while under loopBound(cols)): on the causal diagonal
            // this replaces up to L − 1 scalar dot products per row by one vector.
            int nv = Math.min((n + L - 1) / L * L, S.loopBound(cols));
            int a0 = aOff + r * lda;
            int a1 = a0 + lda;
            int a2 = a1 + lda;
            int a3 = a2 + lda;
            int s0 = r * lds;
            int c = 0;
            for (; c + 2 * L <= nv; c += 2 * L) {
                FloatVector acc0 = FloatVector.zero(S);
                FloatVector acc1 = FloatVector.zero(S);
                FloatVector acc2 = FloatVector.zero(S);
                FloatVector acc3 = FloatVector.zero(S);
                FloatVector acc4 = FloatVector.zero(S);
                FloatVector acc5 = FloatVector.zero(S);
                FloatVector acc6 = FloatVector.zero(S);
                FloatVector acc7 = FloatVector.zero(S);
                int bp = btOff + c;
                for (int p = 0; p < d; p++, bp += ldb) {
                    FloatVector b0 = FloatVector.fromArray(S, bt, bp);
                    FloatVector b1 = FloatVector.fromArray(S, bt, bp + L);
                    FloatVector x0 = FloatVector.broadcast(S, a[a0 + p]);
                    FloatVector x1 = FloatVector.broadcast(S, a[a1 + p]);
                    FloatVector x2 = FloatVector.broadcast(S, a[a2 + p]);
                    FloatVector x3 = FloatVector.broadcast(S, a[a3 + p]);
                    acc0 = x0.fma(b0, acc0);
                    acc1 = x1.fma(b0, acc1);
                    acc2 = x2.fma(b0, acc2);
                    acc3 = x3.fma(b0, acc3);
                    acc4 = x0.fma(b1, acc4);
                    acc5 = x1.fma(b1, acc5);
                    acc6 = x2.fma(b1, acc6);
                    acc7 = x3.fma(b1, acc7);
                }
                acc0.intoArray(s, s0 + c);
                acc1.intoArray(s, s0 + lds + c);
                acc2.intoArray(s, s0 + 2 * lds + c);
                acc3.intoArray(s, s0 + 3 * lds + c);
                acc4.intoArray(s, s0 + c + L);
                acc5.intoArray(s, s0 + lds + c + L);
                acc6.intoArray(s, s0 + 2 * lds + c + L);
                acc7.intoArray(s, s0 + 3 * lds + c + L);
            }
            for (; c < nv; c += L) {
                FloatVector acc0 = FloatVector.zero(S);
                FloatVector acc1 = FloatVector.zero(S);
                FloatVector acc2 = FloatVector.zero(S);
                FloatVector acc3 = FloatVector.zero(S);
                int bp = btOff + c;
                for (int p = 0; p < d; p++, bp += ldb) {
                    FloatVector bv = FloatVector.fromArray(S, bt, bp);
                    acc0 = FloatVector.broadcast(S, a[a0 + p]).fma(bv, acc0);
                    acc1 = FloatVector.broadcast(S, a[a1 + p]).fma(bv, acc1);
                    acc2 = FloatVector.broadcast(S, a[a2 + p]).fma(bv, acc2);
                    acc3 = FloatVector.broadcast(S, a[a3 + p]).fma(bv, acc3);
                }
                acc0.intoArray(s, s0 + c);
                acc1.intoArray(s, s0 + lds + c);
                acc2.intoArray(s, s0 + 2 * lds + c);
                acc3.intoArray(s, s0 + 3 * lds + c);
            }
            for (; c < n; c++) {
                s[s0 + c] = dotColumn(a, a0, bt, btOff + c, ldb, d);
                s[s0 + lds + c] = dotColumn(a, a1, bt, btOff + c, ldb, d);
                s[s0 + 2 * lds + c] = dotColumn(a, a2, bt, btOff + c, ldb, d);
                s[s0 + 3 * lds + c] = dotColumn(a, a3, bt, btOff + c, ldb, d);
            }
        }
        for (; r < rows; r++) {
            int n = Math.min(cols, r + limit);
            int nv = Math.min((n + L - 1) / L * L, S.loopBound(cols));
            int a0 = aOff + r * lda;
            int s0 = r * lds;
            int c = 0;
            for (; c < nv; c += L) {
                FloatVector acc0 = FloatVector.zero(S);
                int bp = btOff + c;
                for (int p = 0; p < d; p++, bp += ldb) {
                    acc0 = FloatVector.broadcast(S, a[a0 + p]).fma(FloatVector.fromArray(S, bt, bp), acc0);
                }
                acc0.intoArray(s, s0 + c);
            }
            for (; c < n; c++) {
                s[s0 + c] = dotColumn(a, a0, bt, btOff + c, ldb, d);
            }
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
    private static float dotColumn(float[] a, int aOff, float[] bt, int btOff, int ldb, int d) {
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
            accumulateVector(p, pOff, pStride, n, v, vOff, ldv, d, o, oOff);
        } else {
            accumulateScalar(p, pOff, pStride, n, v, vOff, ldv, d, o, oOff);
        }
    }

    static void accumulateVector(float[] p, int pOff, int pStride, int n, float[] v, int vOff, int ldv, int d,
                                 float[] o, int oOff) {
        int x = 0;
        for (; x + 2 * L <= d; x += 2 * L) {
            FloatVector acc0 = FloatVector.fromArray(S, o, oOff + x);
            FloatVector acc1 = FloatVector.fromArray(S, o, oOff + x + L);
            int vi = vOff + x;
            int pi = pOff;
            for (int i = 0; i < n; i++, vi += ldv, pi += pStride) {
                FloatVector pv = FloatVector.broadcast(S, p[pi]);
                acc0 = pv.fma(FloatVector.fromArray(S, v, vi), acc0);
                acc1 = pv.fma(FloatVector.fromArray(S, v, vi + L), acc1);
            }
            acc0.intoArray(o, oOff + x);
            acc1.intoArray(o, oOff + x + L);
        }
        for (; x + L <= d; x += L) {
            FloatVector acc0 = FloatVector.fromArray(S, o, oOff + x);
            int vi = vOff + x;
            int pi = pOff;
            for (int i = 0; i < n; i++, vi += ldv, pi += pStride) {
                acc0 = FloatVector.broadcast(S, p[pi]).fma(FloatVector.fromArray(S, v, vi), acc0);
            }
            acc0.intoArray(o, oOff + x);
        }
        for (; x < d; x++) {
            o[oOff + x] = accumulateOne(p, pOff, pStride, n, v, vOff + x, ldv, o[oOff + x]);
        }
    }

    static void accumulateScalar(float[] p, int pOff, int pStride, int n, float[] v, int vOff, int ldv, int d,
                                 float[] o, int oOff) {
        for (int x = 0; x < d; x++) {
            o[oOff + x] = accumulateOne(p, pOff, pStride, n, v, vOff + x, ldv, o[oOff + x]);
        }
    }

    private static float accumulateOne(float[] p, int pOff, int pStride, int n, float[] v, int vOff, int ldv,
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
            accumulate4Vector(p, pOff, pK, pI, lo, dLo, hi, dHi, v, vOff, ldv, d, o, oOff, ldo);
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

    static void accumulate4Vector(float[] p, int pOff, int pK, int pI, int lo, int dLo, int hi, int dHi,
                                  float[] v, int vOff, int ldv, int d, float[] o, int oOff, int ldo) {
        int jointLo = lo + 3 * dLo;      // dLo, dHi are 0 or 1
        int jointHi = hi;
        if (jointHi <= jointLo) {
            for (int k = 0; k < 4; k++) {
                int from = lo + k * dLo;
                int to = hi + k * dHi;
                if (to > from) {
                    accumulateVector(p, pOff + k * pK + from * pI, pI, to - from, v, vOff + from * ldv, ldv, d,
                            o, oOff + k * ldo);
                }
            }
            return;
        }
        // Leading terms of the outputs that start before the joint range.
        for (int k = 0; k < 4; k++) {
            int from = lo + k * dLo;
            if (jointLo > from) {
                accumulateVector(p, pOff + k * pK + from * pI, pI, jointLo - from, v, vOff + from * ldv, ldv, d,
                        o, oOff + k * ldo);
            }
        }
        int o0 = oOff;
        int o1 = oOff + ldo;
        int o2 = o1 + ldo;
        int o3 = o2 + ldo;
        int p0 = pOff + jointLo * pI;
        int n = jointHi - jointLo;
        int x = 0;
        for (; x + 2 * L <= d; x += 2 * L) {
            FloatVector a0 = FloatVector.fromArray(S, o, o0 + x);
            FloatVector a1 = FloatVector.fromArray(S, o, o1 + x);
            FloatVector a2 = FloatVector.fromArray(S, o, o2 + x);
            FloatVector a3 = FloatVector.fromArray(S, o, o3 + x);
            FloatVector a4 = FloatVector.fromArray(S, o, o0 + x + L);
            FloatVector a5 = FloatVector.fromArray(S, o, o1 + x + L);
            FloatVector a6 = FloatVector.fromArray(S, o, o2 + x + L);
            FloatVector a7 = FloatVector.fromArray(S, o, o3 + x + L);
            int vi = vOff + jointLo * ldv + x;
            int pi = p0;
            for (int i = 0; i < n; i++, vi += ldv, pi += pI) {
                FloatVector v0 = FloatVector.fromArray(S, v, vi);
                FloatVector v1 = FloatVector.fromArray(S, v, vi + L);
                FloatVector w0 = FloatVector.broadcast(S, p[pi]);
                FloatVector w1 = FloatVector.broadcast(S, p[pi + pK]);
                FloatVector w2 = FloatVector.broadcast(S, p[pi + 2 * pK]);
                FloatVector w3 = FloatVector.broadcast(S, p[pi + 3 * pK]);
                a0 = w0.fma(v0, a0);
                a1 = w1.fma(v0, a1);
                a2 = w2.fma(v0, a2);
                a3 = w3.fma(v0, a3);
                a4 = w0.fma(v1, a4);
                a5 = w1.fma(v1, a5);
                a6 = w2.fma(v1, a6);
                a7 = w3.fma(v1, a7);
            }
            a0.intoArray(o, o0 + x);
            a1.intoArray(o, o1 + x);
            a2.intoArray(o, o2 + x);
            a3.intoArray(o, o3 + x);
            a4.intoArray(o, o0 + x + L);
            a5.intoArray(o, o1 + x + L);
            a6.intoArray(o, o2 + x + L);
            a7.intoArray(o, o3 + x + L);
        }
        for (; x + L <= d; x += L) {
            FloatVector a0 = FloatVector.fromArray(S, o, o0 + x);
            FloatVector a1 = FloatVector.fromArray(S, o, o1 + x);
            FloatVector a2 = FloatVector.fromArray(S, o, o2 + x);
            FloatVector a3 = FloatVector.fromArray(S, o, o3 + x);
            int vi = vOff + jointLo * ldv + x;
            int pi = p0;
            for (int i = 0; i < n; i++, vi += ldv, pi += pI) {
                FloatVector v0 = FloatVector.fromArray(S, v, vi);
                a0 = FloatVector.broadcast(S, p[pi]).fma(v0, a0);
                a1 = FloatVector.broadcast(S, p[pi + pK]).fma(v0, a1);
                a2 = FloatVector.broadcast(S, p[pi + 2 * pK]).fma(v0, a2);
                a3 = FloatVector.broadcast(S, p[pi + 3 * pK]).fma(v0, a3);
            }
            a0.intoArray(o, o0 + x);
            a1.intoArray(o, o1 + x);
            a2.intoArray(o, o2 + x);
            a3.intoArray(o, o3 + x);
        }
        for (; x < d; x++) {
            int vx = vOff + jointLo * ldv + x;
            o[o0 + x] = accumulateOne(p, p0, pI, n, v, vx, ldv, o[o0 + x]);
            o[o1 + x] = accumulateOne(p, p0 + pK, pI, n, v, vx, ldv, o[o1 + x]);
            o[o2 + x] = accumulateOne(p, p0 + 2 * pK, pI, n, v, vx, ldv, o[o2 + x]);
            o[o3 + x] = accumulateOne(p, p0 + 3 * pK, pI, n, v, vx, ldv, o[o3 + x]);
        }
        // Trailing terms of the outputs that end after the joint range.
        for (int k = 0; k < 4; k++) {
            int to = hi + k * dHi;
            if (to > jointHi) {
                accumulateVector(p, pOff + k * pK + jointHi * pI, pI, to - jointHi, v, vOff + jointHi * ldv, ldv, d,
                        o, oOff + k * ldo);
            }
        }
    }

    /** s[off + i] = e^(fma(s[off + i], scale, −shift)) for i < n, with {@link VectorOps#exp}'s bits. */
    static void expShifted(float[] s, int off, int n, float scale, float shift, boolean vector) {
        if (vector) {
            expShiftedVector(s, off, n, scale, shift);
        } else {
            expShiftedScalar(s, off, n, scale, shift);
        }
    }

    static void expShiftedVector(float[] s, int off, int n, float scale, float shift) {
        int i = 0;
        float neg = -shift;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(S, s, off + i).fma(scale, neg);
            VectorMask<Float> under = x.compare(VectorOperators.LT, VectorOps.EXP_LO);
            x = x.min(VectorOps.EXP_HI);
            FloatVector nv = x.fma(VectorOps.LOG2E, VectorOps.MAGIC).sub(VectorOps.MAGIC);
            FloatVector r = nv.fma(FloatVector.broadcast(S, -VectorOps.LN2_HI), x);
            r = nv.fma(FloatVector.broadcast(S, -VectorOps.LN2_LO), r);
            FloatVector e = FloatVector.broadcast(S, VectorOps.P0).fma(r, FloatVector.broadcast(S, VectorOps.P1));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P2));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P3));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P4));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P5));
            FloatVector y = e.fma(r.mul(r), r.add(1f));
            IntVector bits = ((IntVector) nv.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
            y.mul(bits.reinterpretAsFloats()).blend(0f, under).intoArray(s, off + i);
        }
        for (; i < n; i++) {
            s[off + i] = VectorOps.exp(Math.fma(s[off + i], scale, neg));
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
            probsAndGradVector(s, dp, off, n, scale, lse, di);
        } else {
            probsAndGradScalar(s, dp, off, n, scale, lse, di);
        }
    }

    static void probsAndGradVector(float[] s, float[] dp, int off, int n, float scale, float lse, float di) {
        int i = 0;
        float neg = -lse;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(S, s, off + i).fma(scale, neg);
            VectorMask<Float> under = x.compare(VectorOperators.LT, VectorOps.EXP_LO);
            x = x.min(VectorOps.EXP_HI);
            FloatVector nv = x.fma(VectorOps.LOG2E, VectorOps.MAGIC).sub(VectorOps.MAGIC);
            FloatVector r = nv.fma(FloatVector.broadcast(S, -VectorOps.LN2_HI), x);
            r = nv.fma(FloatVector.broadcast(S, -VectorOps.LN2_LO), r);
            FloatVector e = FloatVector.broadcast(S, VectorOps.P0).fma(r, FloatVector.broadcast(S, VectorOps.P1));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P2));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P3));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P4));
            e = e.fma(r, FloatVector.broadcast(S, VectorOps.P5));
            FloatVector y = e.fma(r.mul(r), r.add(1f));
            IntVector bits = ((IntVector) nv.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
            FloatVector pv = y.mul(bits.reinterpretAsFloats()).blend(0f, under);
            pv.intoArray(s, off + i);
            pv.mul(FloatVector.fromArray(S, dp, off + i).sub(di)).mul(scale).intoArray(dp, off + i);
        }
        for (; i < n; i++) {
            float pi = VectorOps.exp(Math.fma(s[off + i], scale, neg));
            s[off + i] = pi;
            dp[off + i] = pi * (dp[off + i] - di) * scale;
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
