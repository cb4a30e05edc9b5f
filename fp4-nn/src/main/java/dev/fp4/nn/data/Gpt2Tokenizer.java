package dev.fp4.nn.data;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * GPT-2's byte-level BPE (50,257 tokens: 50,000 merges over the 256 byte tokens, plus
 * {@code <|endoftext|>} = 50256), through JTokkit's {@code r50k_base} encoding, which has GPT-2's
 * merge ranks and pre-tokenization pattern. Pure Java; the ranks ship inside the JTokkit jar.
 *
 * <p>Text is encoded as ordinary text: a literal {@code <|endoftext|>} in the input is split like
 * any other characters, never turned into the special token.
 */
public final class Gpt2Tokenizer implements Tokenizer {
    /** Vocabulary size of GPT-2. */
    public static final int VOCAB_SIZE = 50257;
    /** Id of {@code <|endoftext|>}. */
    public static final int END_OF_TEXT = 50256;

    private static volatile Gpt2Tokenizer instance;

    private final Encoding encoding;

    private Gpt2Tokenizer() {
        this.encoding = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
    }

    /** The tokenizer (its ranks are loaded on first use and then shared). */
    public static Gpt2Tokenizer instance() {
        Gpt2Tokenizer t = instance;
        if (t == null) {
            synchronized (Gpt2Tokenizer.class) {
                t = instance;
                if (t == null) {
                    t = new Gpt2Tokenizer();
                    instance = t;
                }
            }
        }
        return t;
    }

    @Override
    public String name() {
        return "gpt2";
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    @Override
    public int[] encode(byte[] bytes) {
        return encode(new String(bytes, StandardCharsets.UTF_8));
    }

    @Override
    public int[] encode(String text) {
        return encoding.encodeOrdinary(Objects.requireNonNull(text, "text")).toArray();
    }

    @Override
    public byte[] bytes(int[] tokens, int off, int len) {
        Objects.checkFromIndexSize(off, len, tokens.length);
        IntArrayList list = new IntArrayList(len);
        for (int i = 0; i < len; i++) {
            int t = tokens[off + i];
            if (t < 0 || t >= VOCAB_SIZE) {
                throw new IllegalArgumentException("token " + t + " at index " + (off + i) + " is outside [0, " + VOCAB_SIZE + ")");
            }
            list.add(t);
        }
        return encoding.decodeBytes(list);
    }

    /** {@code <|endoftext|>}. */
    @Override
    public int separator() {
        return END_OF_TEXT;
    }
}
