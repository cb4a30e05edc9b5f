package dev.fp4.nn;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.core.gemm.Fp4Gemm;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.core.simd.Simd;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Inference one token at a time with a key/value cache: {@link #next} appends a token at position
 * {@link #length()} and writes the logits of the token after it, computing only that position
 * (the keys and values of earlier positions come from the cache).
 *
 * <p><b>Weights.</b> {@link Weights#FP32}: the model's FP32 weights, computed exactly as the full
 * forward of {@link LlamaModel#logits} under the {@code fp32} recipe computes each row (the same
 * FMA chains, norms, rotary tables and blocked online softmax), so the logits equal that
 * forward's bit for bit. {@link Weights#FP4}: every linear weight quantized once to E2M1 under an
 * {@link Fp4Scheme} and kept packed (4 bits per weight plus block scales, {@link #weightBytes()}),
 * multiplied through {@link Fp4Gemm} with FP32 activations.
 *
 * <p>The decoder reads the model's parameters when it is built (FP4) or at every step (FP32); it
 * holds its own buffers and cache. Not thread-safe.
 */
public final class KvDecoder {
    /** How the linear weights are held. */
    public enum Weights {
        /** The FP32 master weights. */
        FP32,
        /** E2M1 codes and block scales, multiplied through {@link Fp4Gemm}. */
        FP4
    }

    private final LlamaModel model;
    private final LlamaConfig c;
    private final Weights weights;
    private final int capacity;
    private final float scale;
    private final float[][][] kt;     // [layer][kv head] kᵀ [headDim, capacity]
    private final float[][] vc;       // [layer] v [capacity, kvDim]
    private final Fp4Tensor[] packed; // per linear (model order), FP4 weights only
    private final List<Linear> linears;
    private int length;

    private final float[] x;
    private final float[] xn;
    private final float[] q;
    private final float[] k;
    private final float[] v;
    private final float[] o;
    private final float[] y;
    private final float[] mid;
    private final float[] g;
    private final float[] u;
    private final float[] h;
    private final float[] s = new float[FlashAttention.BLOCK * FlashAttention.BLOCK];
    private final float[] acc;

    /** A decoder over {@code model} with FP32 weights. */
    public KvDecoder(LlamaModel model) {
        this(model, Weights.FP32, null);
    }

    /**
     * A decoder over {@code model}.
     *
     * @param scheme the FP4 scheme of {@link Weights#FP4} (ignored, may be null, for FP32)
     */
    public KvDecoder(LlamaModel model, Weights weights, Fp4Scheme scheme) {
        this.model = Objects.requireNonNull(model, "model");
        this.c = model.config();
        this.weights = Objects.requireNonNull(weights, "weights");
        this.capacity = c.maxSeq();
        this.scale = (float) (1.0 / Math.sqrt(c.headDim()));
        int layers = c.layers();
        this.kt = new float[layers][c.kvHeads()][c.headDim() * capacity];
        this.vc = new float[layers][capacity * c.kvDim()];
        this.linears = model.linears();
        if (weights == Weights.FP4) {
            Objects.requireNonNull(scheme, "scheme");
            packed = new Fp4Tensor[linears.size()];
            for (int i = 0; i < packed.length; i++) {
                Linear l = linears.get(i);
                packed[i] = Fp4Tensor.quantize(l.weight().data(), l.out(), l.in(), scheme);
            }
        } else {
            packed = null;
        }
        int dim = c.dim();
        x = new float[dim];
        xn = new float[dim];
        q = new float[dim];
        k = new float[c.kvDim()];
        v = new float[c.kvDim()];
        o = new float[dim];
        y = new float[Math.max(dim, c.vocab())];
        mid = new float[dim];
        g = new float[c.ffnDim()];
        u = new float[c.ffnDim()];
        h = new float[c.ffnDim()];
        acc = new float[c.headDim()];
    }

    /** Tokens in the cache. */
    public int length() {
        return length;
    }

    /** The longest sequence the cache holds (the model's maxSeq). */
    public int capacity() {
        return capacity;
    }

    /** Empties the cache for a new sequence. */
    public void reset() {
        length = 0;
    }

    /** Bytes of the linear weights as held: FP32 (4 per weight), or packed codes plus scales. */
    public long weightBytes() {
        long b = 0;
        for (int i = 0; i < linears.size(); i++) {
            Linear l = linears.get(i);
            b += packed == null ? 4L * l.out() * l.in()
                    : ((long) l.out() * l.in() + 1) / 2 + 4L * packed[i].scaleRows() * packed[i].scaleCols();
        }
        return b;
    }

    /**
     * Appends {@code token} at position {@link #length()} and writes the logits of the next token
     * into {@code logits[0, vocab)}.
     *
     * @throws IllegalArgumentException for a token outside [0, vocab) or a full cache
     */
    public void next(int token, float[] logits) {
        if (token < 0 || token >= c.vocab()) {
            throw new IllegalArgumentException("token " + token + " is outside [0, " + c.vocab() + ")");
        }
        if (length >= capacity) {
            throw new IllegalArgumentException("the cache holds " + capacity + " tokens (the model's maxSeq): reset() or shorten the text");
        }
        Objects.checkFromIndexSize(0, c.vocab(), logits.length);
        int dim = c.dim();
        int pos = length;
        System.arraycopy(model.embedding().table().data(), token * dim, x, 0, dim);
        List<TransformerBlock> blocks = model.blocks();
        Rope rope = model.rope();
        int half = c.headDim() / 2;
        for (int l = 0; l < blocks.size(); l++) {
            TransformerBlock b = blocks.get(l);
            RMSNorm.forwardRow(x, 0, b.attnNorm().weight().data(), xn, 0, dim, c.normEps());
            int base = l * 7;                                      // wq, wk, wv, wo, w1, w2, w3
            linear(base, xn, q);
            linear(base + 1, xn, k);
            linear(base + 2, xn, v);
            for (int hh = 0; hh < c.heads(); hh++) {
                Rope.rotate(q, hh * c.headDim(), rope.cosTable(), rope.sinTable(), pos * half, half, false);
            }
            for (int kh = 0; kh < c.kvHeads(); kh++) {
                Rope.rotate(k, kh * c.headDim(), rope.cosTable(), rope.sinTable(), pos * half, half, false);
                for (int e = 0; e < c.headDim(); e++) {
                    kt[l][kh][e * capacity + pos] = k[kh * c.headDim() + e];
                }
            }
            System.arraycopy(v, 0, vc[l], pos * c.kvDim(), c.kvDim());
            for (int hh = 0; hh < c.heads(); hh++) {
                attend(l, hh, pos);
            }
            linear(base + 3, o, y);
            VectorOps.add(x, 0, y, 0, mid, 0, dim);
            RMSNorm.forwardRow(mid, 0, b.ffnNorm().weight().data(), xn, 0, dim, c.normEps());
            linear(base + 4, xn, g);
            linear(base + 6, xn, u);
            SwiGLU.forward(g, 0, u, 0, h, 0, c.ffnDim());
            linear(base + 5, h, y);
            VectorOps.add(mid, 0, y, 0, x, 0, dim);
        }
        RMSNorm.forwardRow(x, 0, model.finalNorm().weight().data(), xn, 0, dim, c.normEps());
        linear(linears.size() - 1, xn, logits);
        length++;
    }

    /** out[0, out) = W·in for linear i (model order), one row. */
    private void linear(int i, float[] in, float[] out) {
        Linear l = linears.get(i);
        if (packed == null) {
            FloatGemm.matmulNT(in, 0, l.weight().data(), 0, out, 0, 1, l.out(), l.in(), false);
        } else {
            Fp4Gemm.matmulNT(in, 0, 1, packed[i], out, 0, false);
        }
    }

    /**
     * o[head] = softmax(q·Kᵀ/√d)·V over positions 0..pos, the row FlashAttention's forward computes
     * for position pos: key blocks of {@link FlashAttention#BLOCK} in order with the running
     * maximum and sum, the diagonal block up to pos, the same kernels.
     */
    private void attend(int layer, int head, int pos) {
        int hd = c.headDim();
        int kh = head / (c.heads() / c.kvHeads());
        boolean vector = Simd.ENABLED;
        int block = FlashAttention.BLOCK;
        int i0 = pos / block * block;
        float m = Float.NEGATIVE_INFINITY;
        float sumL = 0f;
        Arrays.fill(acc, 0f);
        for (int j0 = 0; j0 <= i0; j0 += block) {
            boolean diag = j0 == i0;
            int cnt = diag ? pos - i0 + 1 : block;
            FlashAttention.scores(q, head * hd, c.dim(), 1, kt[layer][kh], j0, capacity, cnt, hd, cnt, s, block, vector);
            float mNew = Math.max(m, VectorOps.max(s, 0, cnt));
            float shift = mNew * scale;
            FlashAttention.expShifted(s, 0, cnt, scale, shift, vector);
            float sum = vector ? VectorOpsPanama.sumVector(s, 0, cnt) : VectorOps.sumScalar(s, 0, cnt);
            if (mNew != m) {
                float alpha = VectorOps.exp(Math.fma(m, scale, -shift));
                sumL *= alpha;
                VectorOps.scale(acc, 0, hd, alpha);
                m = mNew;
            }
            sumL += sum;
            FlashAttention.accumulate(s, 0, 1, cnt, vc[layer], j0 * c.kvDim() + kh * hd, c.kvDim(), hd, acc, 0, vector);
        }
        float inv = 1f / sumL;
        for (int e = 0; e < hd; e++) {
            o[head * hd + e] = acc[e] * inv;
        }
    }
}
