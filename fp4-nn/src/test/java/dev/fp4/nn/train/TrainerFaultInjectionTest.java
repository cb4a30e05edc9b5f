package dev.fp4.nn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.checkpoint.WriteHook;
import dev.fp4.nn.checkpoint.WriteStage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault injection into training runs: a checkpoint write failed at every hook call, and the files a
 * crash can leave behind (the newest checkpoint truncated at every byte-boundary class, bit flips,
 * stray temporary files). After each fault the previous checkpoint must be bit-identical to what
 * was written, {@link Trainer#resumeLatest()} must pick the newest valid checkpoint, and the resumed
 * run must reproduce the losses and final weights of an uninterrupted run bit for bit ("nothing
 * lost"). The number of injection points is printed as {@code FAULTS} lines for docs/reliability.md.
 */
class TrainerFaultInjectionTest {
    /** 12 steps, a checkpoint every 4 (steps 4, 8 and the end, 12), keeping 3. */
    static final TrainingConfig CFG = TrainerTest.CFG.withSteps(12).withIntervals(4, 1, 4);
    static final int KEEP = 3;

    @TempDir
    static Path tmp;

    static TrainingResult reference;
    static float[] referenceWeights;
    static byte[] ckpt4;
    static byte[] ckpt8;
    static int callsPerSave;
    static final List<String> faults = new ArrayList<>();

    @BeforeAll
    static void uninterruptedRun() throws IOException {
        List<WriteStage> stages = new ArrayList<>();
        CheckpointDirectory d = new CheckpointDirectory(tmp.resolve("reference"), KEEP, stages::add);
        BigramModel m = new BigramModel(5);
        reference = new Trainer(m, TrainerTest.DATA, CFG, d).run();
        assertEquals(TrainingResult.Status.COMPLETED, reference.status());
        referenceWeights = m.table.data().clone();
        ckpt4 = Files.readAllBytes(d.pathFor(4));
        ckpt8 = Files.readAllBytes(d.pathFor(8));
        assertEquals(0, stages.size() % 3, "three saves with the same number of hook calls: " + stages);
        callsPerSave = stages.size() / 3;
        assertTrue(new TreeSet<>(stages).containsAll(List.of(WriteStage.values())), "every stage is reached: " + stages);
    }

    @AfterAll
    static void report() {
        System.out.println("FAULTS " + faults.size() + " injection points: " + String.join("; ", faults));
    }

    /** Throws before hook call number {@code failAt} (0-based, counted over the whole run). */
    static final class FailAt implements WriteHook {
        final int failAt;
        int calls;
        WriteStage failedStage;

        FailAt(int failAt) {
            this.failAt = failAt;
        }

        @Override
        public void before(WriteStage stage) throws IOException {
            if (calls++ == failAt) {
                failedStage = stage;
                throw new IOException("injected failure before " + stage);
            }
        }
    }

    /** Resumes from the newest valid checkpoint in {@code dir} and checks the rest of the run against the reference. */
    static void resumeAndCompare(Path dir, long expectedStep, String what) throws IOException {
        BigramModel m = new BigramModel(777);                       // other init: everything must come from the checkpoint
        Trainer t = new Trainer(m, TrainerTest.DATA, CFG, new CheckpointDirectory(dir, KEEP));
        assertTrue(t.resumeLatest(), what + ": a valid checkpoint is found");
        assertEquals(expectedStep, t.step(), what + ": resumed from the newest valid checkpoint");
        TrainingResult rest = t.run();
        assertEquals(TrainingResult.Status.COMPLETED, rest.status(), what);
        double[] ref = TrainerTest.losses(reference);
        double[] tail = TrainerTest.losses(rest);
        assertArrayEquals(Arrays.copyOfRange(ref, (int) expectedStep, ref.length), tail, what + ": losses after resuming");
        assertArrayEquals(referenceWeights, m.table.data(), what + ": final weights");
    }

    static List<Path> tempFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
        }
    }

    @Test
    void aCheckpointWriteFailingAtEveryHookCallLosesNothing() throws IOException {
        for (int k = 0; k < callsPerSave; k++) {
            Path dir = tmp.resolve("fail-" + k);
            FailAt hook = new FailAt(callsPerSave + k);                 // inside the second save, of step 8
            Trainer t = new Trainer(new BigramModel(5), TrainerTest.DATA, CFG, new CheckpointDirectory(dir, KEEP, hook));
            UncheckedIOException e = assertThrows(UncheckedIOException.class, t::run);
            String what = "write failed before " + hook.failedStage + " (hook call " + k + " of " + callsPerSave + ")";
            faults.add(what);
            assertTrue(e.getMessage().contains("could not write the checkpoint of step 8"), e.getMessage());
            assertTrue(e.getCause().getMessage().contains("injected failure before " + hook.failedStage), e.getCause().getMessage());
            CheckpointDirectory d = new CheckpointDirectory(dir, KEEP);
            assertArrayEquals(ckpt4, Files.readAllBytes(d.pathFor(4)), what + ": the previous checkpoint is bit-identical");
            assertEquals(List.of(), tempFiles(dir), what + ": no temporary file left");
            if (hook.failedStage == WriteStage.FSYNC_DIRECTORY) {
                // the rename had happened: step 8 is complete on disk, only the directory sync failed
                assertArrayEquals(ckpt8, Files.readAllBytes(d.pathFor(8)), what);
                resumeAndCompare(dir, 8, what);
            } else {
                assertFalse(Files.exists(d.pathFor(8)), what + ": no partial checkpoint under the final name");
                resumeAndCompare(dir, 4, what);
            }
        }
    }

    /**
     * Byte offsets where a crash on a file system without atomic rename could cut the newest
     * checkpoint: inside and at the end of the length prefix, inside and at the end of the header,
     * and at the start, start + 1, middle and end − 1 of every tensor.
     */
    static TreeSet<Integer> boundaryClasses(byte[] file) {
        long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        int dataStart = 8 + (int) n;
        TreeSet<Integer> cuts = new TreeSet<>(List.of(0, 1, 7, 8, 9, 8 + (int) n / 2, dataStart - 1, dataStart, file.length - 1));
        Matcher m = Pattern.compile("\"data_offsets\":\\[(\\d+),(\\d+)\\]").matcher(new String(file, 8, (int) n, StandardCharsets.UTF_8));
        while (m.find()) {
            int b = dataStart + Integer.parseInt(m.group(1));
            int e = dataStart + Integer.parseInt(m.group(2));
            cuts.addAll(List.of(b, Math.min(b + 1, e), (b + e) / 2, Math.max(e - 1, b)));
        }
        cuts.removeIf(c -> c >= file.length);
        return cuts;
    }

    @Test
    void aTruncatedOrCorruptNewestCheckpointIsSkippedOnResume() throws IOException {
        TreeSet<Integer> cuts = boundaryClasses(ckpt8);
        assertTrue(cuts.size() > 15, "cuts " + cuts);
        List<byte[]> damaged = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int cut : cuts) {
            damaged.add(Arrays.copyOf(ckpt8, cut));
            names.add("newest checkpoint truncated to " + cut + " of " + ckpt8.length + " bytes");
        }
        // single bit flips at the same boundaries (length prefix, header, every tensor)
        for (int at : cuts) {
            byte[] c = ckpt8.clone();
            c[at] ^= 0x10;
            damaged.add(c);
            names.add("newest checkpoint with bit 4 of byte " + at + " flipped");
        }
        for (int i = 0; i < damaged.size(); i++) {
            Path dir = tmp.resolve("damaged-" + i);
            CheckpointDirectory d = new CheckpointDirectory(dir, KEEP);
            Files.createDirectories(dir);
            Files.write(d.pathFor(4), ckpt4);
            Files.write(d.pathFor(8), damaged.get(i));
            // what a killed atomic write leaves: a partial temporary file beside the target
            Files.write(dir.resolve(".ckpt-0000000012.safetensors.1f2e3d.tmp"), Arrays.copyOf(ckpt8, Math.min(ckpt8.length, damaged.get(i).length)));
            faults.add(names.get(i));
            resumeAndCompare(dir, 4, names.get(i));
            // the resumed run rewrote step 8 atomically over the damaged file
            assertArrayEquals(ckpt8, Files.readAllBytes(d.pathFor(8)), names.get(i) + ": step 8 rewritten");
        }
    }

    /** The reference model, whose loss turns NaN from step {@code from} (0-based) on: a recipe blowing up mid-run. */
    static final class NanFrom implements TrainableModel {
        final BigramModel inner = new BigramModel(5);
        final long from;
        long step;

        NanFrom(long from) {
            this.from = from;
        }

        @Override
        public List<dev.fp4.nn.Parameter> parameters() {
            return inner.parameters();
        }

        @Override
        public float forward(int[] t, int[] y, int b, int s) {
            float l = inner.forward(t, y, b, s);
            return step >= from ? Float.NaN : l;
        }

        @Override
        public void backward() {
            inner.backward();
        }

        @Override
        public float evaluate(int[] t, int[] y, int b, int s) {
            return inner.evaluate(t, y, b, s);
        }

        @Override
        public void setStep(long s, long total) {
            step = s;
            inner.setStep(s, total);
        }

        @Override
        public String recipeName() {
            return inner.recipeName();
        }

        @Override
        public Map<String, String> config() {
            return inner.config();
        }
    }

    @Test
    void theNanGuardStopsAndTheLastGoodCheckpointIsBitIdenticalAndResumable() throws IOException {
        Path dir = tmp.resolve("nan");
        CheckpointDirectory d = new CheckpointDirectory(dir, KEEP);
        TrainingResult r = new Trainer(new NanFrom(9), TrainerTest.DATA, CFG, d).run();   // NaN in step 10
        faults.add("NaN training loss at step 10");
        assertEquals(TrainingResult.Status.NON_FINITE, r.status(), r.message());
        assertEquals(9, r.stepsCompleted());
        assertTrue(r.message().contains("stopped at step 10: the training loss is NaN"), r.message());
        assertTrue(r.message().contains("the last good checkpoint is " + d.pathFor(8)), r.message());
        assertEquals(List.of(d.pathFor(4), d.pathFor(8)), d.list(), "no checkpoint of the poisoned state");
        assertArrayEquals(ckpt4, Files.readAllBytes(d.pathFor(4)));
        assertArrayEquals(ckpt8, Files.readAllBytes(d.pathFor(8)), "the last good checkpoint is the uninterrupted run's step 8");
        resumeAndCompare(dir, 8, "after the NaN stop");
    }

    /**
     * A real {@link dev.fp4.nn.LlamaModel} meeting NaN weights: under FP32 the loss turns NaN, under
     * FP4 recipes the first quantizer (or the outlier clamp) rejects the NaN; the model reports both
     * by throwing {@link ArithmeticException} from forward(), which the trainer's guard must treat as
     * a non-finite loss (stop, keep the last good checkpoint) rather than crash the run.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"fp32", "fp4-direct", "fp4-dge-occ"})
    void aLlamaModelMeetingNanIsStoppedByTheGuard(String recipe) throws IOException {
        dev.fp4.nn.LlamaModel model = new dev.fp4.nn.LlamaModel(dev.fp4.nn.LlamaConfig.tiny(),
                dev.fp4.nn.recipe.PrecisionRecipe.byName(recipe), 3);
        LlamaTrainable inner = new LlamaTrainable(model);
        TrainableModel poisoned = new TrainableModel() {
            @Override
            public List<dev.fp4.nn.Parameter> parameters() {
                return inner.parameters();
            }

            @Override
            public float forward(int[] t, int[] y, int b, int s) {
                return inner.forward(t, y, b, s);
            }

            @Override
            public void backward() {
                inner.backward();
            }

            @Override
            public float evaluate(int[] t, int[] y, int b, int s) {
                return inner.evaluate(t, y, b, s);
            }

            @Override
            public void setStep(long s, long total) {
                inner.setStep(s, total);
                if (s == 5) {
                    for (dev.fp4.nn.Parameter p : model.parameters()) {
                        p.data()[0] = Float.NaN;                     // as if a kernel had produced them
                    }
                }
            }

            @Override
            public String recipeName() {
                return inner.recipeName();
            }

            @Override
            public Map<String, String> config() {
                return inner.config();
            }
        };
        Path dir = tmp.resolve("llama-nan-" + recipe);
        CheckpointDirectory d = new CheckpointDirectory(dir, KEEP);
        TrainingConfig cfg = CFG.withBatch(2, 16).withIntervals(4, 1, 4).withLr(1e-3, 1);
        TrainingResult r = new Trainer(poisoned, TrainerTest.DATA, cfg, d).run();
        faults.add("NaN weights in a LlamaModel (" + recipe + ") at step 6");
        assertEquals(TrainingResult.Status.NON_FINITE, r.status(), r.message());
        assertEquals(5, r.stepsCompleted());
        assertTrue(r.message().contains("stopped at step 6: the forward pass is not finite (" + recipe + " recipe): "), r.message());
        assertTrue(r.message().contains(recipe.equals("fp32") ? "loss is NaN" : "non-finite value in the forward pass"), r.message());
        if (!recipe.equals("fp32")) {
            assertTrue(r.message().contains("layers.0.attn.wq") && r.message().contains("NaN at "), r.message());
        }
        assertTrue(r.message().contains("the last good checkpoint is " + d.pathFor(4)), r.message());
        assertEquals(List.of(d.pathFor(4)), d.list());
        for (float x : dev.fp4.nn.checkpoint.Checkpoint.read(d.pathFor(4)).parameters().values().iterator().next().toFloats()) {
            assertTrue(Float.isFinite(x));
        }
    }

    /** A non-finite validation loss reported by the model stops the run before that state is checkpointed. */
    @Test
    void aNonFiniteValidationLossStopsTheRunKeepingTheLastGoodCheckpoint() throws IOException {
        BigramModel inner = new BigramModel(5);
        TrainableModel m = new TrainableModel() {
            @Override
            public List<dev.fp4.nn.Parameter> parameters() {
                return inner.parameters();
            }

            @Override
            public float forward(int[] t, int[] y, int b, int s) {
                return inner.forward(t, y, b, s);
            }

            @Override
            public void backward() {
                inner.backward();
            }

            @Override
            public float evaluate(int[] t, int[] y, int b, int s) {
                if (step >= 7) {                              // 0-based: the evaluation after the 8th step
                    throw new ArithmeticException("loss is Infinity (recipe test)");
                }
                return inner.evaluate(t, y, b, s);
            }

            long step;

            @Override
            public void setStep(long s, long total) {
                step = s;
                inner.setStep(s, total);
            }

            @Override
            public String recipeName() {
                return inner.recipeName();
            }

            @Override
            public Map<String, String> config() {
                return inner.config();
            }
        };
        Path dir = tmp.resolve("val-nan");
        CheckpointDirectory d = new CheckpointDirectory(dir, KEEP);
        TrainingResult r = new Trainer(m, TrainerTest.DATA, CFG, d).run();
        faults.add("non-finite validation loss after step 8");
        assertEquals(TrainingResult.Status.NON_FINITE, r.status(), r.message());
        assertEquals(8, r.stepsCompleted());
        assertTrue(r.message().contains("stopped after step 8: the validation loss is not finite (NaN, "), r.message());
        assertTrue(r.message().contains("the last good checkpoint is " + d.pathFor(4)), r.message());
        assertEquals(List.of(d.pathFor(4)), d.list(), "the state after step 8 is not checkpointed");
        assertArrayEquals(ckpt4, Files.readAllBytes(d.pathFor(4)));
        assertArrayEquals(Arrays.copyOf(TrainerTest.losses(reference), 7), TrainerTest.losses(r), "training up to the stop is unaffected");
    }
}
