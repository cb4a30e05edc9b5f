package dev.fp4.nn.data;

import java.util.Objects;

/**
 * The byte-level tokenizer: a text's tokens are its UTF-8 bytes, vocabulary size 256. Every byte
 * string is encodable and every token sequence decodable (invalid UTF-8 decodes to U+FFFD).
 */
public final class ByteTokenizer implements Tokenizer {
    /** Vocabulary size: one token per byte value. */
    public static final int VOCAB_SIZE = 256;

    /** The tokenizer (it has no state). */
    public static final ByteTokenizer INSTANCE = new ByteTokenizer();

    private ByteTokenizer() {
    }

    @Override
    public String name() {
        return "byte";
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    /** Bytes as tokens in [0, 256). */
    @Override
    public int[] encode(byte[] bytes) {
        int[] t = new int[bytes.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = bytes[i] & 0xff;
        }
        return t;
    }

    @Override
    public byte[] bytes(int[] tokens, int off, int len) {
        Objects.checkFromIndexSize(off, len, tokens.length);
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            int t = tokens[off + i];
            if (t < 0 || t >= VOCAB_SIZE) {
                throw new IllegalArgumentException("token " + t + " at index " + (off + i) + " is outside [0, 256)");
            }
            b[i] = (byte) t;
        }
        return b;
    }

    /** The newline byte. */
    @Override
    public int separator() {
        return '\n';
    }
}
