package dev.fp4.nn.data;

import java.nio.charset.StandardCharsets;

/**
 * The byte-level tokenizer: a text's tokens are its UTF-8 bytes, vocabulary size 256. Every byte
 * string is encodable and every token sequence decodable (invalid UTF-8 decodes to U+FFFD).
 */
public final class ByteTokenizer {
    /** Vocabulary size: one token per byte value. */
    public static final int VOCAB_SIZE = 256;

    private ByteTokenizer() {
    }

    /** The UTF-8 bytes of {@code text} as tokens in [0, 256). */
    public static int[] encode(String text) {
        return tokens(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Bytes as tokens in [0, 256). */
    public static int[] tokens(byte[] bytes) {
        int[] t = new int[bytes.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = bytes[i] & 0xff;
        }
        return t;
    }

    /**
     * The text whose UTF-8 bytes are {@code tokens}.
     *
     * @throws IllegalArgumentException naming the index of the first token outside [0, 256)
     */
    public static String decode(int[] tokens) {
        byte[] b = new byte[tokens.length];
        for (int i = 0; i < b.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= VOCAB_SIZE) {
                throw new IllegalArgumentException("token " + tokens[i] + " at index " + i + " is outside [0, 256)");
            }
            b[i] = (byte) tokens[i];
        }
        return new String(b, StandardCharsets.UTF_8);
    }
}
