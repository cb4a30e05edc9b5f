package dev.fp4.nn;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Shape of a LLaMA-style decoder.
 *
 * @param vocab          vocabulary size (token ids in [0, vocab))
 * @param dim            model width; a multiple of {@code heads}
 * @param layers         number of transformer blocks
 * @param heads          query heads; {@code dim / heads} must be even (rotary embedding pairs)
 * @param kvHeads        key/value heads (grouped-query attention); divides {@code heads}
 * @param ffnDim         hidden width of the SwiGLU feed-forward
 * @param maxSeq         longest sequence the rotary tables cover
 * @param tiedEmbeddings whether the LM head reuses the token-embedding matrix
 * @param normEps        RMSNorm epsilon, added to the mean square
 * @param ropeTheta      rotary embedding base (10000 in LLaMA 1/2)
 */
public record LlamaConfig(int vocab, int dim, int layers, int heads, int kvHeads, int ffnDim, int maxSeq,
                          boolean tiedEmbeddings, float normEps, float ropeTheta)
        implements java.io.Serializable {

    /** Names accepted by {@link #preset(String)}. */
    public static final List<String> PRESETS = List.of("tiny", "small", "medium");

    /** Validates every field; the message names the field and its value. */
    public LlamaConfig {
        positive("vocab", vocab);
        positive("dim", dim);
        positive("layers", layers);
        positive("heads", heads);
        positive("kvHeads", kvHeads);
        positive("ffnDim", ffnDim);
        positive("maxSeq", maxSeq);
        if (dim % heads != 0) {
            throw new IllegalArgumentException("dim " + dim + " is not a multiple of heads " + heads);
        }
        if ((dim / heads) % 2 != 0) {
            throw new IllegalArgumentException("head dimension dim/heads = " + dim / heads
                    + " must be even for rotary embeddings");
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("kvHeads " + kvHeads + " does not divide heads " + heads);
        }
        if (!(normEps > 0f) || !Float.isFinite(normEps)) {
            throw new IllegalArgumentException("normEps must be positive and finite, got " + normEps);
        }
        if (!(ropeTheta > 1f) || !Float.isFinite(ropeTheta)) {
            throw new IllegalArgumentException("ropeTheta must be finite and > 1, got " + ropeTheta);
        }
    }

    /** Convenience constructor: untied embeddings, eps 1e-5, theta 10000. */
    public LlamaConfig(int vocab, int dim, int layers, int heads, int kvHeads, int ffnDim, int maxSeq) {
        this(vocab, dim, layers, heads, kvHeads, ffnDim, maxSeq, false, 1e-5f, 10000f);
    }

    /** For tests: dim 64, 2 layers, 4 heads, ffn 192, seq 64, vocab 256. */
    public static LlamaConfig tiny() {
        return new LlamaConfig(256, 64, 2, 4, 4, 192, 64);
    }

    /** For benchmarks: dim 256, 4 layers, 8 heads, ffn 768, seq 256, vocab 256. */
    public static LlamaConfig small() {
        return new LlamaConfig(256, 256, 4, 8, 8, 768, 256);
    }

    /** dim 512, 8 layers, 8 heads, ffn 1376, seq 256, vocab 256 (25.6 M parameters). */
    public static LlamaConfig medium() {
        return new LlamaConfig(256, 512, 8, 8, 8, 1376, 256);
    }

    /**
     * A preset by name ({@link #PRESETS}, case-insensitive).
     *
     * @throws IllegalArgumentException for an unknown name, listing the valid ones
     */
    public static LlamaConfig preset(String name) {
        String key = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        return switch (key) {
            case "tiny" -> tiny();
            case "small" -> small();
            case "medium" -> medium();
            default -> throw new IllegalArgumentException(
                    "unknown preset '" + name + "'; valid presets: " + String.join(", ", PRESETS));
        };
    }

    /** Width of one attention head, {@code dim / heads}. */
    public int headDim() {
        return dim / heads;
    }

    /** Width of the key and value projections, {@code kvHeads * headDim()}. */
    public int kvDim() {
        return kvHeads * headDim();
    }

    /** A copy with other key/value heads. */
    public LlamaConfig withKvHeads(int kv) {
        return new LlamaConfig(vocab, dim, layers, heads, kv, ffnDim, maxSeq, tiedEmbeddings, normEps, ropeTheta);
    }

    /** A copy with tied or untied embeddings. */
    public LlamaConfig withTiedEmbeddings(boolean tied) {
        return new LlamaConfig(vocab, dim, layers, heads, kvHeads, ffnDim, maxSeq, tied, normEps, ropeTheta);
    }

    /**
     * A copy with other sizes; each argument that is null keeps this configuration's value (the
     * command line's {@code --vocab --dim --layers --heads --kv-heads --ffn --seq} over a preset).
     * When {@code heads} changes and {@code kvHeads} is null, kvHeads follows heads (plain
     * multi-head attention) if it equalled heads before.
     *
     * @throws IllegalArgumentException when the result is not a valid configuration
     */
    public LlamaConfig with(Integer vocab, Integer dim, Integer layers, Integer heads, Integer kvHeads, Integer ffnDim,
                            Integer maxSeq) {
        int h = heads != null ? heads : this.heads;
        int kv = kvHeads != null ? kvHeads : (this.kvHeads == this.heads ? h : this.kvHeads);
        return new LlamaConfig(vocab != null ? vocab : this.vocab, dim != null ? dim : this.dim, layers != null ? layers : this.layers,
                h, kv, ffnDim != null ? ffnDim : this.ffnDim, maxSeq != null ? maxSeq : this.maxSeq, tiedEmbeddings, normEps,
                ropeTheta);
    }

    /**
     * The fields as strings under the keys checkpoints store ({@code model.vocab}, {@code model.dim},
     * ...); {@link #fromMap} reads them back exactly (floats in their shortest round-trip form).
     */
    public Map<String, String> asMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("model.vocab", Integer.toString(vocab));
        m.put("model.dim", Integer.toString(dim));
        m.put("model.layers", Integer.toString(layers));
        m.put("model.heads", Integer.toString(heads));
        m.put("model.kv_heads", Integer.toString(kvHeads));
        m.put("model.ffn_dim", Integer.toString(ffnDim));
        m.put("model.max_seq", Integer.toString(maxSeq));
        m.put("model.tied_embeddings", Boolean.toString(tiedEmbeddings));
        m.put("model.norm_eps", Float.toString(normEps));
        m.put("model.rope_theta", Float.toString(ropeTheta));
        return m;
    }

    /**
     * The configuration {@link #asMap} wrote (other keys are ignored).
     *
     * @throws IllegalArgumentException naming a missing or malformed key, or when the values do not
     *                                  form a valid configuration
     */
    public static LlamaConfig fromMap(Map<String, String> m) {
        return new LlamaConfig(intOf(m, "model.vocab"), intOf(m, "model.dim"), intOf(m, "model.layers"), intOf(m, "model.heads"),
                intOf(m, "model.kv_heads"), intOf(m, "model.ffn_dim"), intOf(m, "model.max_seq"),
                Boolean.parseBoolean(text(m, "model.tied_embeddings")), floatOf(m, "model.norm_eps"), floatOf(m, "model.rope_theta"));
    }

    private static String text(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) {
            throw new IllegalArgumentException("model configuration has no " + key + " (not a LLaMA model's configuration)");
        }
        return v;
    }

    private static int intOf(Map<String, String> m, String key) {
        try {
            return Integer.parseInt(text(m, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " = \"" + m.get(key) + "\" is not an integer", e);
        }
    }

    private static float floatOf(Map<String, String> m, String key) {
        try {
            return Float.parseFloat(text(m, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " = \"" + m.get(key) + "\" is not a number", e);
        }
    }

    /** Number of trainable scalars. */
    public long parameterCount() {
        long perLayer = 2L * dim + (long) dim * dim * 2 + 2L * dim * kvDim() + 3L * dim * ffnDim;
        return (long) vocab * dim * (tiedEmbeddings ? 1 : 2) + layers * perLayer + dim;
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
    }
}
