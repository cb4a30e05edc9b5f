package dev.fp4.nn.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Names in every locale, rotation, one run per directory, leftovers of a crash, shards. */
class CheckpointDirectoryTest {
    @TempDir
    Path dir;

    static Checkpoint checkpoint(long step, String run) {
        Map<String, TensorData> params = new LinkedHashMap<>();
        params.put("w", TensorData.ofFloats(new float[] {step, 2, 3, 4, 5, 6}, 2, 3));
        params.put("b", TensorData.ofFloats(new float[] {7, 8}, 2));
        return new Checkpoint(step, 1, Map.of("train", 3 * step), "fp32", Map.of("model.dim", "3"), params,
                Map.of("step", TensorData.ofLong(step)), Map.of(Checkpoint.RUN_ID, run));
    }

    static List<String> names(List<Path> ps) {
        return ps.stream().map(p -> p.getFileName().toString()).toList();
    }

    @Test
    void namesHaveAsciiDigitsWhateverTheDefaultLocale() throws IOException {
        Locale before = Locale.getDefault();
        try {
            for (String tag : new String[] {"fa-IR", "ar-EG", "hi-IN-u-nu-deva", "th-TH-u-nu-thai"}) {
                Locale.setDefault(Locale.forLanguageTag(tag));
                Path d = dir.resolve(tag);
                CheckpointDirectory ck = new CheckpointDirectory(d, 2);
                ck.save(checkpoint(42, "r"));
                ck.save(checkpoint(43, "r"));
                ck.save(checkpoint(44, "r"));
                assertEquals(List.of("ckpt-0000000043.safetensors", "ckpt-0000000044.safetensors"), names(ck.list()), tag);
                assertEquals(44, ck.latestValid().orElseThrow().checkpoint().step(), tag);
            }
        } finally {
            Locale.setDefault(before);
        }
    }

    @Test
    void anotherRunIsRefusedNamingBothRunsAndNothingIsDeleted() throws IOException {
        CheckpointDirectory ck = new CheckpointDirectory(dir, 2);
        ck.save(checkpoint(100, "runA"));
        ck.save(checkpoint(200, "runA"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ck.save(checkpoint(10, "runB")));
        assertEquals("checkpoint directory " + dir + " holds checkpoints of run runA (steps [100, 200]), and this is run runB: "
                + "give this run another directory, or resume that run", e.getMessage());
        assertEquals(List.of("ckpt-0000000100.safetensors", "ckpt-0000000200.safetensors"), names(ck.list()));
        assertEquals(200, ck.latestValid().orElseThrow().checkpoint().step());
    }

    @Test
    void rotationNeverDeletesTheCheckpointJustWritten() throws IOException {
        CheckpointDirectory ck = new CheckpointDirectory(dir, 2);
        ck.save(checkpoint(100, "runA"));
        ck.save(checkpoint(200, "runA"));
        // the same run, resumed from an older state, writes an earlier step
        Path p = ck.save(checkpoint(10, "runA"));
        assertTrue(Files.exists(p), "the file just written exists");
        assertEquals(List.of("ckpt-0000000010.safetensors", "ckpt-0000000200.safetensors"), names(ck.list()));
    }

    @Test
    void leftoversOfAnInterruptedWriteAreRemoved() throws IOException {
        CheckpointDirectory ck = new CheckpointDirectory(dir, 3, WriteHook.NONE, 30);      // sharded
        ck.save(checkpoint(1, "r"));
        Files.writeString(dir.resolve(".ckpt-0000000002.safetensors.5f3a.tmp"), "half a file");
        Files.writeString(dir.resolve("ckpt-0000000002-00001-of-00003.safetensors"), "a shard whose index was never written");
        Files.writeString(dir.resolve("notes.txt"), "not ours");
        List<Path> removed = ck.removeStale();
        assertEquals(List.of(".ckpt-0000000002.safetensors.5f3a.tmp", "ckpt-0000000002-00001-of-00003.safetensors"),
                names(removed).stream().sorted().toList());
        assertTrue(Files.exists(dir.resolve("notes.txt")));
        assertEquals(1, ck.latestValid().orElseThrow().checkpoint().step(), "the complete checkpoint stays");
        assertTrue(names(ck.list()).contains("ckpt-0000000001.safetensors.index.json"));
    }

    @Test
    void shardedCheckpointsRoundTripAndACorruptShardIsSkipped() throws IOException {
        CheckpointDirectory ck = new CheckpointDirectory(dir, 3, WriteHook.NONE, 30);      // shards of at most 30 bytes
        ck.save(checkpoint(1, "r"));
        Path second = ck.save(checkpoint(2, "r"));
        assertEquals("ckpt-0000000002.safetensors.index.json", second.getFileName().toString());
        Checkpoint back = ck.latestValid().orElseThrow().checkpoint();
        assertArrayEquals(new float[] {2, 2, 3, 4, 5, 6}, back.parameters().get("w").toFloats());
        assertEquals(6L, back.rngPositions().get("train"));
        assertEquals(checkpoint(2, "r").optimizerState(), back.optimizerState());
        // flip one byte of a shard of step 2: the newest valid is step 1
        Path shard;
        try (var s = Files.list(dir)) {
            shard = s.filter(p -> p.getFileName().toString().startsWith("ckpt-0000000002-00001-of-")).findFirst().orElseThrow();
        }
        byte[] b = Files.readAllBytes(shard);
        b[b.length - 1] ^= 1;
        Files.write(shard, b);
        assertEquals(1, ck.latestValid().orElseThrow().checkpoint().step());
        // rotation deletes an index and its shards
        ck.save(checkpoint(3, "r"));
        ck.save(checkpoint(4, "r"));
        try (var s = Files.list(dir)) {
            assertFalse(s.anyMatch(p -> p.getFileName().toString().startsWith("ckpt-0000000001")), "step 1 is gone, shards too");
        }
    }
}
