package dev.fp4.nn.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.Parameter;
import dev.fp4.nn.optim.AdamW;
import dev.fp4.nn.optim.MomentPrecision;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path dir;

    static List<Parameter> params(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Parameter> ps = List.of(new Parameter("tok_embeddings", 16, 4), new Parameter("layers.0.wq", 4, 4),
                new Parameter("norm", 4));
        for (Parameter p : ps) {
            for (int i = 0; i < p.size(); i++) {
                p.data()[i] = (float) r.nextGaussian();
                p.grad()[i] = (float) r.nextGaussian();
            }
        }
        return ps;
    }

    static Checkpoint checkpoint(long step, long seed) {
        List<Parameter> ps = params(seed);
        AdamW opt = new AdamW(ps, AdamW.Settings.paper(MomentPrecision.FP8_FP16));
        opt.step(1e-3);
        return Checkpoint.capture(step, seed, Map.of("train", 12L * step, "eval", 3L), "fp4-dge-occ",
                Map.of("preset", "tiny", "dim", "64"), ps, opt.state(), Map.of("note", "x"));
    }

    @Test
    void roundTripIsExact() throws IOException {
        Checkpoint c = checkpoint(42, 7);
        Path f = dir.resolve("c.safetensors");
        c.write(f);
        Checkpoint r = Checkpoint.read(f);
        assertEquals(c, r);
        assertEquals(42, r.step());
        assertEquals(Map.of("train", 504L, "eval", 3L), r.rngPositions());
        assertEquals("tiny", r.config().get("preset"));
        List<Parameter> fresh = List.of(new Parameter("tok_embeddings", 16, 4), new Parameter("layers.0.wq", 4, 4),
                new Parameter("norm", 4));
        r.restoreParameters(fresh);
        List<Parameter> orig = params(7);
        AdamW tmp = new AdamW(orig, AdamW.Settings.paper(MomentPrecision.FP8_FP16));
        tmp.step(1e-3);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(orig.get(i).data(), fresh.get(i).data());
        }
        AdamW restored = new AdamW(fresh, AdamW.Settings.paper(MomentPrecision.FP8_FP16));
        restored.loadState(r.optimizerState());
        assertEquals(tmp.state(), restored.state());
        // PyTorch sees parameters under their own names and F32
        SafeTensorsFile raw = SafeTensors.read(f);
        assertEquals(DType.F32, raw.tensors().get("layers.0.wq").dtype());
        assertEquals(DType.U8, raw.tensors().get("optim.m.layers.0.wq").dtype());
        assertEquals("pt", raw.metadata().get("format"));
    }

    @Test
    void restoreRejectsMismatchedModels() {
        Checkpoint c = checkpoint(1, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> c.restoreParameters(List.of(new Parameter("tok_embeddings", 16, 4), new Parameter("layers.0.wq", 4, 5), new Parameter("norm", 4))));
        assertTrue(e.getMessage().contains("layers.0.wq") && e.getMessage().contains("[4, 5]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.restoreParameters(List.of(new Parameter("tok_embeddings", 16, 4))));
        assertTrue(e.getMessage().contains("does not exist in the model"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> c.restoreParameters(List.of(new Parameter("other", 1))));
    }

    @Test
    void aPlainSafetensorsFileIsNotACheckpoint() throws IOException {
        Path f = dir.resolve("plain.safetensors");
        SafeTensors.write(f, Map.of("a", TensorData.ofLong(1)), Map.of());
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> Checkpoint.read(f));
        assertTrue(e.getMessage().contains("not an fp4 checkpoint"), e.getMessage());
    }

    @Test
    void directoryKeepsTheNewestAndSkipsCorruptOnes() throws IOException {
        CheckpointDirectory d = new CheckpointDirectory(dir.resolve("ckpts"), 2);
        assertTrue(d.latestValid().isEmpty());
        for (long s : new long[] {10, 20, 30}) {
            d.save(checkpoint(s, s));
        }
        assertEquals(List.of(d.pathFor(20), d.pathFor(30)), d.list());
        // a crash that left a truncated newer file (non-atomic file systems) and a stray temp file
        byte[] good = Files.readAllBytes(d.pathFor(30));
        Files.write(d.pathFor(40), java.util.Arrays.copyOf(good, good.length / 2));
        Files.write(d.directory().resolve(".ckpt-0000000050.safetensors.1234.tmp"), new byte[] {1, 2});
        CheckpointDirectory.Loaded l = d.latestValid().orElseThrow();
        assertEquals(30, l.checkpoint().step());
        assertEquals(d.pathFor(30), l.path());
    }

    /** Counts hook calls; throws at call number {@code failAt} (0-based), or never when -1. */
    static final class FailAt implements WriteHook {
        final int failAt;
        int calls;
        final List<WriteStage> stages = new ArrayList<>();

        FailAt(int failAt) {
            this.failAt = failAt;
        }

        @Override
        public void before(WriteStage stage) throws IOException {
            stages.add(stage);
            if (calls++ == failAt) {
                throw new IOException("injected failure before " + stage);
            }
        }
    }

    @Test
    void aWriteFailingAtAnyStageKeepsThePreviousCheckpointLoadable() throws IOException {
        CheckpointDirectory d = new CheckpointDirectory(dir.resolve("ckpts"), 1);
        Checkpoint first = checkpoint(100, 1);
        d.save(first);
        byte[] firstBytes = Files.readAllBytes(d.pathFor(100));
        FailAt count = new FailAt(-1);
        checkpoint(200, 2).write(dir.resolve("probe.safetensors"), count);
        int stages = count.calls;
        assertTrue(count.stages.containsAll(List.of(WriteStage.values())), count.stages.toString());
        for (int k = 0; k < stages; k++) {
            FailAt hook = new FailAt(k);
            IOException e = assertThrows(IOException.class, () -> d.save(checkpoint(200, 2), hook), "stage " + k);
            WriteStage failed = hook.stages.get(k);
            assertTrue(e.getMessage().contains("injected failure before " + failed), e.getMessage());
            CheckpointDirectory.Loaded l = d.latestValid().orElseThrow();
            if (failed == WriteStage.FSYNC_DIRECTORY) {
                // the rename had happened: the new checkpoint is complete; pruning did not run
                assertEquals(200, l.checkpoint().step());
                assertArrayEquals(firstBytes, Files.readAllBytes(d.pathFor(100)));
                Files.delete(d.pathFor(200));
            } else {
                assertEquals(first, l.checkpoint(), "after a failure before " + failed);
                assertFalse(Files.exists(d.pathFor(200)));
            }
            assertArrayEquals(firstBytes, Files.readAllBytes(d.pathFor(100)));
            try (Stream<Path> s = Files.list(d.directory())) {
                assertEquals(List.of(d.pathFor(100)), s.toList(), "no temporary file left after a failure before " + failed);
            }
        }
    }
}
