package dev.fp4.nn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {
    @TempDir
    Path dir;

    @Test
    void byName() {
        assertSame(ByteTokenizer.INSTANCE, Tokenizer.byName("byte"));
        assertSame(Gpt2Tokenizer.instance(), Tokenizer.byName("GPT2"));
        var e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.byName("sentencepiece"));
        assertTrue(e.getMessage().contains("byte, gpt2"), e.getMessage());
    }

    /** Ids published with GPT-2's encoder.json (the same in tiktoken's gpt2 and r50k_base). */
    @Test
    void gpt2EncodesKnownIds() {
        Tokenizer t = Gpt2Tokenizer.instance();
        assertEquals(50257, t.vocabSize());
        assertArrayEquals(new int[] {15496, 995}, t.encode("Hello world"));
        assertArrayEquals(new int[] {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13}, t.encode("The quick brown fox jumps over the lazy dog."));
        assertArrayEquals(new int[] {0}, t.encode("!"));
        assertEquals("<|endoftext|>", t.decode(new int[] {50256}));
        // a literal special-token string in the data stays ordinary text
        assertTrue(t.encode("<|endoftext|>").length > 1);
        assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {50257}));
    }

    @Test
    void bothRoundTripAndStreamTokenByToken() throws IOException {
        String s = "héllo, 世界 🎉\n  spaces\tand tabs; numbers 12345";
        for (String name : Tokenizer.NAMES) {
            Tokenizer t = Tokenizer.byName(name);
            int[] ids = t.encode(s);
            assertEquals(s, t.decode(ids), name);
            ByteArrayOutputStream streamed = new ByteArrayOutputStream();
            for (int i = 0; i < ids.length; i++) {
                streamed.write(t.bytes(ids, i, 1));
            }
            assertEquals(s, streamed.toString(StandardCharsets.UTF_8), name + " streamed");
        }
        assertEquals(s.getBytes(StandardCharsets.UTF_8).length, ByteTokenizer.INSTANCE.encode(s).length);
        assertTrue(Gpt2Tokenizer.instance().encode(s).length < s.length());
    }

    @Test
    void datasetOfAFileUsesTheTokenizer() throws IOException {
        Path f = dir.resolve("t.txt");
        String text = "the cat sat on the mat. ".repeat(50);
        Files.writeString(f, text);
        TextDataset d = TextDataset.fromFile(f, Gpt2Tokenizer.instance());
        int[] all = Gpt2Tokenizer.instance().encode(text);
        assertEquals(all.length, d.size());
        assertEquals(all.length / 10, d.size(Split.VALIDATION));
        assertArrayEquals(java.util.Arrays.copyOfRange(all, all.length - all.length / 10, all.length), d.tokens(Split.VALIDATION));
        assertEquals("gpt2", d.tokenizer().name());
        Batch b = d.sampler(Split.TRAIN, 2, 8, 1).next();
        for (int i = 0; i < 16; i++) {
            assertTrue(b.tokens()[i] < 50257);
        }
        var e = assertThrows(IllegalArgumentException.class, () -> d.sampler(Split.TRAIN, 1, 200, 1));
        assertTrue(e.getMessage().contains("validation tokens"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TextDataset.fromTokens("x", new int[] {1, 256}, ByteTokenizer.INSTANCE));
    }
}
