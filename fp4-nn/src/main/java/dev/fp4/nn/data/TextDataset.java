package dev.fp4.nn.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A tokenized text split into training and validation parts by a fixed rule: of n tokens, the
 * validation split is the last ⌊n/10⌋ tokens and the training split the first n − ⌊n/10⌋. (A
 * contiguous tail, not a random subset, so that no validation window overlaps a training window
 * except across the one boundary.) The tokens are held as an int array (4 bytes per token).
 */
public final class TextDataset {
    private final String name;
    private final int[] tokens;
    private final Tokenizer tokenizer;
    private final int trainLen;

    private TextDataset(String name, int[] tokens, Tokenizer tokenizer) {
        this.name = name;
        this.tokens = tokens;
        this.tokenizer = tokenizer;
        this.trainLen = tokens.length - tokens.length / 10;
    }

    /**
     * Reads a UTF-8 (or any) text file as bytes ({@link ByteTokenizer}).
     *
     * @throws NoSuchFileException when the file does not exist (message names it)
     * @throws IOException         when it cannot be read, is a directory or is empty (message names it)
     */
    public static TextDataset fromFile(Path file) throws IOException {
        return fromFile(file, ByteTokenizer.INSTANCE);
    }

    /**
     * Reads a UTF-8 text file and encodes it with {@code tokenizer}.
     *
     * @throws NoSuchFileException when the file does not exist (message names it)
     * @throws IOException         when it cannot be read, is a directory or is empty (message names it)
     */
    public static TextDataset fromFile(Path file, Tokenizer tokenizer) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(tokenizer, "tokenizer");
        if (!Files.exists(file)) {
            throw new NoSuchFileException(file.toString(), null, "data file not found");
        }
        if (Files.isDirectory(file)) {
            throw new IOException("data file " + file + " is a directory, not a text file");
        }
        long size = Files.size(file);
        if (size > Integer.MAX_VALUE - 8) {
            throw new IOException("data file " + file + " has " + size + " bytes; at most 2 GiB are supported");
        }
        byte[] b = Files.readAllBytes(file);
        if (b.length == 0) {
            throw new IOException("data file " + file + " is empty");
        }
        int[] t = tokenizer.encode(b);
        if (t.length == 0) {
            throw new IOException("data file " + file + " has no tokens");
        }
        return new TextDataset(file.toString(), t, tokenizer);
    }

    /**
     * A byte-level dataset over bytes held in memory.
     *
     * @param name shown in messages, e.g. the corpus description
     * @throws IllegalArgumentException when bytes is empty
     */
    public static TextDataset fromBytes(String name, byte[] bytes) {
        if (bytes.length == 0) {
            throw new IllegalArgumentException("dataset " + name + " is empty");
        }
        return new TextDataset(name, ByteTokenizer.INSTANCE.encode(bytes), ByteTokenizer.INSTANCE);
    }

    /**
     * A dataset over tokens of {@code tokenizer} (not copied; do not modify them afterwards).
     *
     * @throws IllegalArgumentException when tokens is empty or holds an id outside the vocabulary
     */
    public static TextDataset fromTokens(String name, int[] tokens, Tokenizer tokenizer) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("dataset " + name + " is empty");
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= tokenizer.vocabSize()) {
                throw new IllegalArgumentException("dataset " + name + ": token " + tokens[i] + " at index " + i
                        + " is outside the " + tokenizer.name() + " vocabulary [0, " + tokenizer.vocabSize() + ")");
            }
        }
        return new TextDataset(name, tokens, tokenizer);
    }

    /** The tokenizer the tokens come from. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The file name or description. */
    public String name() {
        return name;
    }

    /** Total tokens. */
    public int size() {
        return tokens.length;
    }

    /** Tokens in a split. */
    public int size(Split split) {
        return split == Split.TRAIN ? trainLen : tokens.length - trainLen;
    }

    /** All tokens, both splits in order (a copy). */
    public int[] tokens() {
        return tokens.clone();
    }

    /** The tokens of a split (a copy). */
    public int[] tokens(Split split) {
        int off = split == Split.TRAIN ? 0 : trainLen;
        return java.util.Arrays.copyOfRange(tokens, off, off + size(split));
    }

    private String unit() {
        return tokenizer == ByteTokenizer.INSTANCE ? "bytes" : "tokens";
    }

    /**
     * Checks that both splits hold at least one window of seq + 1 tokens.
     *
     * @throws IllegalArgumentException naming the dataset, its size and the size needed
     */
    public void requireWindows(int seq) {
        if (seq <= 0) {
            throw new IllegalArgumentException("sequence length must be positive, got " + seq);
        }
        int val = size(Split.VALIDATION);
        if (val < seq + 1 || trainLen < seq + 1) {
            long needed = 10L * (seq + 1);
            String u = unit();
            throw new IllegalArgumentException("dataset " + name + " is too small: " + tokens.length + " " + u + " give "
                    + trainLen + " training and " + val + " validation " + u + ", each split needs at least seq + 1 = "
                    + (seq + 1) + " (use at least " + needed + " " + u + ")");
        }
    }

    /**
     * A seeded sampler of random windows from a split.
     *
     * @throws IllegalArgumentException for non-positive sizes or a split too small for seq
     */
    public BatchSampler sampler(Split split, int batch, int seq, long seed) {
        if (batch <= 0) {
            throw new IllegalArgumentException("batch size must be positive, got " + batch);
        }
        requireWindows(seq);
        if ((long) batch * seq > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("batch " + batch + " × seq " + seq + " is too large");
        }
        int off = split == Split.TRAIN ? 0 : trainLen;
        return new BatchSampler(tokens, off, size(split), batch, seq, seed);
    }

    @Override
    public String toString() {
        return name + " (" + tokens.length + " " + unit() + ")";
    }
}
