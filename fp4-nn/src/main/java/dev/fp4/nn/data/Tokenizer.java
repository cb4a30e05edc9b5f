package dev.fp4.nn.data;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * Text to token ids and back. A model's vocabulary is its tokenizer's {@link #vocabSize()}, and a
 * checkpoint records the tokenizer's {@link #name()} so that generation and evaluation encode text
 * the way training did.
 *
 * <p>Every tokenizer here is lossless on UTF-8 text: {@code decode(encode(s)).equals(s)}.
 */
public interface Tokenizer {
    /** Names accepted by {@link #byName}, the default first. */
    List<String> NAMES = List.of("byte", "gpt2");

    /** The name recorded in checkpoints ({@code byte}, {@code gpt2}). */
    String name();

    /** Number of token ids, [0, vocabSize). */
    int vocabSize();

    /** The tokens of a text given as bytes (UTF-8 for text tokenizers; invalid sequences become U+FFFD). */
    int[] encode(byte[] bytes);

    /** The tokens of a text. */
    default int[] encode(String text) {
        return encode(text.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The bytes that {@code tokens[off, off + len)} stand for. Concatenating the bytes of
     * consecutive pieces gives the bytes of the whole, so text can be streamed token by token.
     *
     * @throws IllegalArgumentException naming the index of the first token outside [0, vocabSize)
     */
    byte[] bytes(int[] tokens, int off, int len);

    /** The text of the tokens (UTF-8 decoding of {@link #bytes}). */
    default String decode(int[] tokens) {
        return new String(bytes(tokens, 0, tokens.length), StandardCharsets.UTF_8);
    }

    /**
     * The token generation starts from when there is no prompt: the byte tokenizer's newline, GPT-2's
     * {@code <|endoftext|>}.
     */
    int separator();

    /**
     * A tokenizer by name ({@link #NAMES}, case-insensitive).
     *
     * @throws IllegalArgumentException for an unknown name, listing the valid ones
     */
    static Tokenizer byName(String name) {
        String key = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        return switch (key) {
            case "byte" -> ByteTokenizer.INSTANCE;
            case "gpt2" -> Gpt2Tokenizer.instance();
            default -> throw new IllegalArgumentException("unknown tokenizer '" + name + "'; valid tokenizers: "
                    + String.join(", ", NAMES));
        };
    }
}
