package dev.fp4.nn;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.core.gemm.Fp4Gemm;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.nn.checkpoint.TensorData;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.IntConsumer;

/**
 * The forward pass of a trained LLaMA model for generation: the same equations as
 * {@link LlamaModel} (which trains), run over new tokens only, with the keys and values of earlier
 * positions taken from a {@link KvCache}. Nothing is kept for a backward pass.
 *
 * <p><b>Weights.</b> In FP32, or with the linear weights of every block (q, k, v, o, gate, up,
 * down) quantized once to FP4 under an {@link Fp4Scheme} and kept packed (E2M1 codes two per byte
 * and block scales): each product is then {@link Fp4Gemm#matmulNT(float[], int, int, Fp4Tensor,
 * float[], int, boolean)}, FP32 activations against the packed weight, and no FP32 copy of those
 * weights is held. The embedding, the norms and the LM head stay FP32.
 *
 * <p><b>Exactness.</b> Every row is computed by the same chains whatever the number of rows in the
 * call (the GeMMs accumulate each element in one fixed order; the attention of a row reads its
 * own query and the cached keys and values in position order), so running a sequence token by
 * token through the cache gives the same logits bit for bit as one call over the whole sequence.
 * They agree with {@link LlamaModel}'s FP32 forward to float rounding (its attention is blocked).
 *
 * <p>Not thread-safe: one call at a time per model (rows and heads run on the shared threads).
 */
public final class InferenceModel {
    private final LlamaConfig config;
    private final float[] embedding;
    private final float[] finalNorm;
    private final float[] lmHead;
    private final Layer[] layers;
    private final Rope rope;
    private final Fp4Scheme scheme;
    private final float scale;

    // Buffers sized by the rows of a call, grown on demand.
    private float[] x = new float[0];
    private float[] xn = new float[0];
    private float[] q = new float[0];
    private float[] k = new float[0];
    private float[] v = new float[0];
    private float[] att = new float[0];
    private float[] tmp = new float[0];
    private float[] g = new float[0];
    private float[] u = new float[0];
    private float[] hid = new float[0];
    private final ThreadLocal<float[]> scores;

    // Arguments of the running attention, read by its loop body (bound once).
    private int attRows;
    private int attFirst;
    private float[] attKeys;
    private float[] attValues;
    private final IntConsumer attentionItem = this::attentionItem;

    /** One block's weights. */
    private record Layer(float[] attnNorm, Weight wq, Weight wk, Weight wv, Weight wo, float[] ffnNorm, Weight w1, Weight w3, Weight w2) {
    }

    /** A linear weight [out, in]: y[rows, out] = x[rows, in]·Wᵀ. */
    private record Weight(int out, int in, float[] fp32, Fp4Tensor fp4) {
        void apply(float[] x, int rows, float[] y) {
            if (fp4 == null) {
                FloatGemm.matmulNT(x, 0, fp32, 0, y, 0, rows, out, in, false);
            } else {
                Fp4Gemm.matmulNT(x, 0, rows, fp4, y, 0, false);
            }
        }

        /** Bytes of the weight as held: FP32 values, or packed codes plus block and tensor scales. */
        long bytes() {
            if (fp4 == null) {
                return 4L * out * in;
            }
            return ((long) out * in + 1) / 2 + 4L * fp4.scaleRows() * fp4.scaleCols() + 4;
        }
    }

    private InferenceModel(LlamaConfig config, Map<String, float[]> p, Fp4Scheme scheme) {
        this.config = config;
        this.scheme = scheme;
        this.embedding = need(p, "tok_embeddings", (long) config.vocab() * config.dim());
        this.finalNorm = need(p, "norm", config.dim());
        this.lmHead = config.tiedEmbeddings() ? embedding : need(p, "output", (long) config.vocab() * config.dim());
        this.layers = new Layer[config.layers()];
        int dim = config.dim();
        int kv = config.kvDim();
        int ffn = config.ffnDim();
        for (int l = 0; l < layers.length; l++) {
            String pre = "layers." + l + ".";
            layers[l] = new Layer(need(p, pre + "attn_norm", dim), weight(p, pre + "attn.wq", dim, dim), weight(p, pre + "attn.wk", kv, dim),
                    weight(p, pre + "attn.wv", kv, dim), weight(p, pre + "attn.wo", dim, dim), need(p, pre + "ffn_norm", dim),
                    weight(p, pre + "ffn.w1", ffn, dim), weight(p, pre + "ffn.w3", ffn, dim), weight(p, pre + "ffn.w2", dim, ffn));
        }
        this.rope = new Rope(config.headDim(), config.maxSeq(), config.ropeTheta());
        this.scale = (float) (1.0 / Math.sqrt(config.headDim()));
        this.scores = ThreadLocal.withInitial(() -> new float[config.maxSeq()]);
    }

    private static float[] need(Map<String, float[]> p, String name, long size) {
        float[] a = p.get(name);
        if (a == null || a.length != size) {
            throw new IllegalArgumentException("parameter " + name + ": expected " + size + " values, got "
                    + (a == null ? "none" : a.length));
        }
        return a;
    }

    private Weight weight(Map<String, float[]> p, String name, int out, int in) {
        float[] w = need(p, name, (long) out * in);
        return scheme == null ? new Weight(out, in, w, null) : new Weight(out, in, null, Fp4Tensor.quantize(w, out, in, scheme));
    }

    /**
     * A model over a trained model's current FP32 weights (shared, not copied: later changes to
     * the parameters show).
     */
    public static InferenceModel of(LlamaModel model) {
        Map<String, float[]> p = new LinkedHashMap<>();
        for (Parameter x : model.parameters()) {
            p.put(x.name(), x.data());
        }
        return new InferenceModel(model.config(), p, null);
    }

    /**
     * A model over parameters stored under {@link LlamaModel}'s names (a checkpoint's F32 tensors).
     *
     * @param scheme null for FP32 weights, else the FP4 scheme of the blocks' linear weights
     * @throws IllegalArgumentException naming a missing or mis-sized parameter
     */
    public static InferenceModel of(LlamaConfig config, Map<String, TensorData> parameters, Fp4Scheme scheme) {
        Objects.requireNonNull(config, "config");
        Map<String, float[]> p = new LinkedHashMap<>();
        for (var e : parameters.entrySet()) {
            p.put(e.getKey(), e.getValue().toFloats());
        }
        return new InferenceModel(config, p, scheme);
    }

    /** The configuration. */
    public LlamaConfig config() {
        return config;
    }

    /** The FP4 scheme of the linear weights, or null when they are FP32. */
    public Fp4Scheme scheme() {
        return scheme;
    }

    /** Bytes held by the blocks' linear weights (FP32 values, or FP4 codes and scales). */
    public long linearWeightBytes() {
        long b = 0;
        for (Layer l : layers) {
            for (Weight w : List.of(l.wq, l.wk, l.wv, l.wo, l.w1, l.w3, l.w2)) {
                b += w.bytes();
            }
        }
        return b;
    }

    /** Bytes of the FP32 weights outside the blocks' linear layers (embedding, norms, LM head). */
    public long otherWeightBytes() {
        long n = (long) config.vocab() * config.dim() * (config.tiedEmbeddings() ? 1 : 2) + config.dim()
                + 2L * config.layers() * config.dim();
        return 4 * n;
    }

    /** An empty cache for this model. */
    public KvCache newCache() {
        return new KvCache(config);
    }

    /**
     * Runs {@code tokens[off, off + n)} at positions {@code cache.length() ...}, appending their
     * keys and values to the cache, and writes the logits of the last token into
     * {@code logits[0, vocab)}, or of every token into {@code logits[0, n·vocab)} when
     * {@code allRows}.
     *
     * @throws IllegalArgumentException when the cache cannot hold n more positions, a token is
     *                                  outside the vocabulary or logits is too short (the cache is unchanged then)
     */
    public void forward(int[] tokens, int off, int n, KvCache cache, float[] logits, boolean allRows) {
        Objects.checkFromIndexSize(off, n, tokens.length);
        if (n <= 0 || cache.length() + n > cache.capacity()) {
            throw new IllegalArgumentException("need 1 <= n and cache length " + cache.length() + " + n " + n + " <= maxSeq "
                    + cache.capacity());
        }
        for (int i = 0; i < n; i++) {
            int t = tokens[off + i];
            if (t < 0 || t >= config.vocab()) {
                throw new IllegalArgumentException("token " + t + " at index " + (off + i) + " is outside [0, " + config.vocab() + ")");
            }
        }
        int vocab = config.vocab();
        if (logits.length < (long) (allRows ? n : 1) * vocab) {
            throw new IllegalArgumentException("logits needs " + (long) (allRows ? n : 1) * vocab + " elements, got " + logits.length);
        }
        int dim = config.dim();
        int kvDim = config.kvDim();
        int ffn = config.ffnDim();
        grow(n);
        for (int i = 0; i < n; i++) {
            System.arraycopy(embedding, tokens[off + i] * dim, x, i * dim, dim);
        }
        int first = cache.length();
        for (int l = 0; l < layers.length; l++) {
            Layer ly = layers[l];
            norm(x, 0, ly.attnNorm, xn, n);
            ly.wq.apply(xn, n, q);
            ly.wk.apply(xn, n, k);
            ly.wv.apply(xn, n, v);
            rope.applyAt(q, n, config.heads(), first);
            rope.applyAt(k, n, config.kvHeads(), first);
            System.arraycopy(k, 0, cache.keys[l], first * kvDim, n * kvDim);
            System.arraycopy(v, 0, cache.values[l], first * kvDim, n * kvDim);
            attRows = n;
            attFirst = first;
            attKeys = cache.keys[l];
            attValues = cache.values[l];
            Parallel.forEach(n * config.heads(), attentionItem);
            ly.wo.apply(att, n, tmp);
            VectorOps.add(x, 0, tmp, 0, x, 0, n * dim);
            norm(x, 0, ly.ffnNorm, xn, n);
            ly.w1.apply(xn, n, g);
            ly.w3.apply(xn, n, u);
            SwiGLU.forward(g, 0, u, 0, hid, 0, n * ffn);
            ly.w2.apply(hid, n, tmp);
            VectorOps.add(x, 0, tmp, 0, x, 0, n * dim);
        }
        cache.advance(n);
        int from = allRows ? 0 : n - 1;
        int rows = n - from;
        norm(x, from, finalNorm, xn, rows);
        FloatGemm.matmulNT(xn, 0, lmHead, 0, logits, 0, rows, vocab, dim, false);
    }

    /** out[r] = RMSNorm(in[first + r]) for r in [0, rows). */
    private void norm(float[] in, int first, float[] w, float[] out, int rows) {
        int dim = config.dim();
        for (int r = 0; r < rows; r++) {
            RMSNorm.forwardRow(in, (first + r) * dim, w, out, r * dim, dim, config.normEps());
        }
    }

    /**
     * Attention of row r (position first + r), query head h: softmax over the cached positions
     * 0 .. first + r of (q·k_j)/√d, then o = Σ_j p_j·v_j, j ascending.
     */
    private void attentionItem(int item) {
        int heads = config.heads();
        int hd = config.headDim();
        int kvDim = config.kvDim();
        int r = item / heads;
        int h = item % heads;
        int kvh = h / (heads / config.kvHeads());
        int len = attFirst + r + 1;
        float[] s = scores.get();
        int qOff = r * config.dim() + h * hd;
        for (int j = 0; j < len; j++) {
            int kOff = j * kvDim + kvh * hd;
            float d = 0;
            for (int e = 0; e < hd; e++) {
                d = Math.fma(q[qOff + e], attKeys[kOff + e], d);
            }
            s[j] = d;
        }
        Softmax.forward(s, 0, s, 0, len, scale);
        Arrays.fill(att, qOff, qOff + hd, 0f);
        for (int j = 0; j < len; j++) {
            int vOff = j * kvDim + kvh * hd;
            float p = s[j];
            for (int e = 0; e < hd; e++) {
                att[qOff + e] = Math.fma(p, attValues[vOff + e], att[qOff + e]);
            }
        }
    }

    private void grow(int n) {
        int dim = config.dim();
        x = Workspace.grow(x, (long) n * dim);
        xn = Workspace.grow(xn, (long) n * dim);
        q = Workspace.grow(q, (long) n * dim);
        k = Workspace.grow(k, (long) n * config.kvDim());
        v = Workspace.grow(v, (long) n * config.kvDim());
        att = Workspace.grow(att, (long) n * dim);
        tmp = Workspace.grow(tmp, (long) n * dim);
        g = Workspace.grow(g, (long) n * config.ffnDim());
        u = Workspace.grow(u, (long) n * config.ffnDim());
        hid = Workspace.grow(hid, (long) n * config.ffnDim());
    }
}
