package dev.fp4.nn;

import java.util.List;
import java.util.Locale;

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

    /** 25.6 M parameters: dim 512, 8 layers, 8 heads, ffn 1376, seq 256, vocab 256. */
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
