package dev.fp4.nn.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A byte-tokenized text ({@link ByteTokenizer}) split into training and validation parts by a
 * fixed rule: of n bytes, the validation split is the last ⌊n/10⌋ bytes and the training split the
 * first n − ⌊n/10⌋. (A contiguous tail, not a random subset, so that no validation window overlaps
 * a training window except across the one boundary.)
 */
public final class TextDataset {
    private final String name;
    private final byte[] bytes;
    private final int trainLen;

    private TextDataset(String name, byte[] bytes) {
        this.name = name;
        this.bytes = bytes;
        this.trainLen = bytes.length - bytes.length / 10;
    }

    /**
     * Reads a UTF-8 (or any) text file.
     *
     * @throws NoSuchFileException when the file does not exist (message names it)
     * @throws IOException         when it cannot be read, is a directory or is empty (message names it)
     */
    public static TextDataset fromFile(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
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
        return new TextDataset(file.toString(), b);
    }

    /**
     * A dataset over bytes held in memory (not copied; do not modify them afterwards).
     *
     * @param name shown in messages, e.g. the corpus description
     * @throws IllegalArgumentException when bytes is empty
     */
    public static TextDataset fromBytes(String name, byte[] bytes) {
        if (bytes.length == 0) {
            throw new IllegalArgumentException("dataset " + name + " is empty");
        }
        return new TextDataset(name, bytes);
    }

    /** The file name or description. */
    public String name() {
        return name;
    }

    /** Total bytes (tokens). */
    public int size() {
        return bytes.length;
    }

    /** Bytes in a split. */
    public int size(Split split) {
        return split == Split.TRAIN ? trainLen : bytes.length - trainLen;
    }

    /** The tokens of a split (a copy). */
    public int[] tokens(Split split) {
        int off = split == Split.TRAIN ? 0 : trainLen;
        int[] t = new int[size(split)];
        for (int i = 0; i < t.length; i++) {
            t[i] = bytes[off + i] & 0xff;
        }
        return t;
    }

    /**
     * Checks that both splits hold at least one window of seq + 1 bytes.
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
            throw new IllegalArgumentException("dataset " + name + " is too small: " + bytes.length + " bytes give "
                    + trainLen + " training and " + val + " validation bytes, each split needs at least seq + 1 = "
                    + (seq + 1) + " (use at least " + needed + " bytes)");
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
        return new BatchSampler(bytes, off, size(split), batch, seq, seed);
    }

    @Override
    public String toString() {
        return name + " (" + bytes.length + " bytes)";
    }
}
