package dev.fp4.nn.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint beyond 2 GiB, through the directory the trainer uses: a 151,936 × 4,096 F32
 * parameter (2.49 GB, Qwen's embedding table; more bytes than a Java array holds) beside a small
 * one, sharded at 1 GiB, written, found by {@code latestValid}, verified and read back into the
 * array it came from. The values are a function of the index, so nothing else needs the memory.
 */
class LargeCheckpointTest {
    static final int ROWS = 151_936;
    static final int COLS = 4_096;

    @TempDir
    Path dir;

    static float value(long i) {
        return (float) ((i * 2654435761L) % 1_000_003L) - 500_000f;
    }

    @Test
    void aCheckpointOfMoreThan2GiBIsWrittenFoundAndReadBack() throws IOException {
        float[] big = new float[ROWS * COLS];
        for (int i = 0; i < big.length; i++) {
            big[i] = value(i);
        }
        Map<String, TensorData> params = new LinkedHashMap<>();
        params.put("tok_embeddings", TensorData.viewOfFloats(big, 0, ROWS, COLS));
        params.put("norm", TensorData.ofFloats(new float[] {1f, 2f, 3f}, 3));
        assertEquals(4L * ROWS * COLS, params.get("tok_embeddings").byteSize());
        Checkpoint c = new Checkpoint(5, 1, Map.of("train", 5L), "fp32", Map.of("model.dim", "4096"), params,
                Map.of("step", TensorData.ofLong(5)), Map.of(Checkpoint.RUN_ID, "big"));
        CheckpointDirectory ck = new CheckpointDirectory(dir, 2, WriteHook.NONE, 1L << 30);
        Path written = ck.save(c);
        assertEquals("ckpt-0000000005.safetensors.index.json", written.getFileName().toString());
        List<Path> files;
        try (var s = Files.list(dir)) {
            files = s.sorted().toList();
        }
        assertEquals(3, files.size(), files.toString());                 // the big tensor alone, the rest, the index
        assertTrue(Files.size(dir.resolve("ckpt-0000000005-00001-of-00002.safetensors")) > (2L << 30));

        java.util.Arrays.fill(big, 0f);
        var loaded = ck.latestValid().orElseThrow();
        assertEquals(written, loaded.path());
        Checkpoint back = loaded.checkpoint();
        assertEquals(5, back.step());
        assertEquals("big", back.runId());
        back.parameters().get("tok_embeddings").copyFloatsTo(big, 0);
        for (int i = 0; i < big.length; i++) {
            if (big[i] != value(i)) {
                throw new AssertionError("element " + i + ": " + big[i] + ", wrote " + value(i));
            }
        }
        assertEquals(List.of(1f, 2f, 3f), List.of(back.parameters().get("norm").toFloats()[0], back.parameters().get("norm").toFloats()[1],
                back.parameters().get("norm").toFloats()[2]));
    }
}
