package dev.fp4.nn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextDatasetTest {
    @TempDir
    Path dir;

    @Test
    void byteTokenizerRoundTripsUtf8() {
        String s = "héllo, 世界 🎉";
        int[] t = ByteTokenizer.INSTANCE.encode(s);
        assertEquals(s.getBytes(StandardCharsets.UTF_8).length, t.length);
        for (int x : t) {
            assertTrue(x >= 0 && x < 256);
        }
        assertEquals(s, ByteTokenizer.INSTANCE.decode(t));
        assertThrows(IllegalArgumentException.class, () -> ByteTokenizer.INSTANCE.decode(new int[] {65, 256}));
    }

    @Test
    void splitIsTheLastTenthAndWindowsAreConsecutiveBytes() throws IOException {
        byte[] bytes = new byte[1000];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 7);
        }
        Path f = dir.resolve("d.txt");
        Files.write(f, bytes);
        TextDataset d = TextDataset.fromFile(f);
        assertEquals(900, d.size(Split.TRAIN));
        assertEquals(100, d.size(Split.VALIDATION));
        assertEquals(bytes[900] & 0xff, d.tokens(Split.VALIDATION)[0]);
        BatchSampler s = d.sampler(Split.VALIDATION, 4, 16, 42);
        for (int k = 0; k < 50; k++) {
            Batch b = s.next();
            for (int r = 0; r < 4; r++) {
                int first = b.tokens()[r * 16];
                // locate the window: tokens are (i*7) mod 256, i in [900, 1000)
                int start = -1;
                for (int i = 900; i < 1000; i++) {
                    if (((i * 7) & 0xff) == first && i + 16 < 1000 && matches(bytes, i, b, r)) {
                        start = i;
                        break;
                    }
                }
                assertTrue(start >= 900, "window inside the validation split");
            }
        }
    }

    private static boolean matches(byte[] bytes, int start, Batch b, int r) {
        for (int i = 0; i < b.seq(); i++) {
            if (b.tokens()[r * b.seq() + i] != (bytes[start + i] & 0xff) || b.targets()[r * b.seq() + i] != (bytes[start + i + 1] & 0xff)) {
                return false;
            }
        }
        return true;
    }

    @Test
    void samplingIsSeededAndSeekable() {
        TextDataset d = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).dataset(50_000, 1);
        BatchSampler a = d.sampler(Split.TRAIN, 3, 32, 7);
        BatchSampler b = d.sampler(Split.TRAIN, 3, 32, 7);
        int[][] seen = new int[10][];
        for (int k = 0; k < 10; k++) {
            seen[k] = a.next().tokens().clone();
            assertArrayEquals(seen[k], b.next().tokens());
        }
        assertEquals(10, a.position());
        b.seek(4);
        assertArrayEquals(seen[4], b.next().tokens());
        assertNotEquals(java.util.Arrays.toString(seen[0]),
                java.util.Arrays.toString(d.sampler(Split.TRAIN, 3, 32, 8).next().tokens()));
        // every start position reachable and none out of range
        BatchSampler small = TextDataset.fromBytes("x", new byte[100]).sampler(Split.TRAIN, 1, 8, 3);
        boolean[] hit = new boolean[90 - 8];
        for (int k = 0; k < 5000; k++) {
            int s = small.start(k);
            assertTrue(s >= 0 && s + 8 < 90, "start " + s);
            hit[s] = true;
        }
        for (boolean h : hit) {
            assertTrue(h);
        }
    }

    @Test
    void clearErrorsNamingTheFile() throws IOException {
        Path missing = dir.resolve("nope.txt");
        NoSuchFileException nf = assertThrows(NoSuchFileException.class, () -> TextDataset.fromFile(missing));
        assertTrue(nf.getMessage().contains("nope.txt") && nf.getMessage().contains("not found"), nf.getMessage());
        Path empty = dir.resolve("empty.txt");
        Files.write(empty, new byte[0]);
        IOException e = assertThrows(IOException.class, () -> TextDataset.fromFile(empty));
        assertTrue(e.getMessage().contains("empty.txt") && e.getMessage().contains("empty"), e.getMessage());
        IOException d = assertThrows(IOException.class, () -> TextDataset.fromFile(dir));
        assertTrue(d.getMessage().contains("directory"), d.getMessage());
        Path small = dir.resolve("small.txt");
        Files.writeString(small, "just a few bytes of text here");
        TextDataset ds = TextDataset.fromFile(small);
        IllegalArgumentException t = assertThrows(IllegalArgumentException.class, () -> ds.sampler(Split.TRAIN, 2, 64, 0));
        assertTrue(t.getMessage().contains("small.txt") && t.getMessage().contains("too small"), t.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ds.sampler(Split.TRAIN, 0, 1, 0));
    }
}
