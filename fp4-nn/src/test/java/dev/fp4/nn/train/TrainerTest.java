package dev.fp4.nn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.optim.MomentPrecision;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
    static final TextDataset DATA = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).dataset(200_000, 3);
    static final TrainingConfig CFG = TrainingConfig.defaults().withSteps(30).withBatch(8, 32).withIntervals(10, 2, 0)
            .withLr(0.5, 1).withMoments(MomentPrecision.FP8_FP16);

    @TempDir
    Path dir;

    static double[] losses(TrainingResult r) {
        return r.records().stream().mapToDouble(StepRecord::trainLoss).toArray();
    }

    @Test
    void sameSeedGivesBitIdenticalLossesAndTheModelLearns() {
        TrainingResult a = new Trainer(new BigramModel(1), DATA, CFG, null).run();
        TrainingResult b = new Trainer(new BigramModel(1), DATA, CFG, null).run();
        assertEquals(TrainingResult.Status.COMPLETED, a.status());
        assertArrayEquals(losses(a), losses(b));
        assertEquals(30, a.records().size());
        assertEquals(3, a.records().stream().filter(StepRecord::evaluated).count());     // steps 10, 20, 30
        // a bigram model on this corpus: from ln 256 = 5.545 down well below 4 in 30 steps
        assertTrue(a.records().get(0).trainLoss() > 5.4);
        assertTrue(a.lastEvaluated().valLoss() < 4.0, "val " + a.lastEvaluated().valLoss());
        TrainingResult c = new Trainer(new BigramModel(1), DATA, CFG.withSeed(99), null).run();
        assertTrue(losses(c)[5] != losses(a)[5], "another data seed gives other batches");
    }

    @Test
    void resumeContinuesExactlyAsIfNeverStopped() throws IOException {
        BigramModel full = new BigramModel(5);
        TrainingResult ref = new Trainer(full, DATA, CFG, null).run();

        CheckpointDirectory ckpts = new CheckpointDirectory(dir.resolve("ckpt"), 2);
        Trainer first = new Trainer(new BigramModel(5), DATA, CFG, ckpts);
        TrainingResult part = first.run(new TrainingListener() {
            @Override
            public void onStep(StepRecord r, long total) {
                if (r.step() == 13) {
                    first.requestStop();                 // as the CLI's Ctrl-C hook does
                }
            }
        });
        assertEquals(TrainingResult.Status.INTERRUPTED, part.status());
        assertEquals(13, part.stepsCompleted());
        assertNotNull(part.lastCheckpoint());

        BigramModel resumedModel = new BigramModel(777);   // other init: everything comes from the checkpoint
        Trainer second = new Trainer(resumedModel, DATA, CFG, ckpts);
        assertTrue(second.resumeLatest());
        assertEquals(13, second.step());
        TrainingResult rest = second.run();
        assertEquals(17, rest.records().size());
        double[] all = new double[30];
        System.arraycopy(losses(part), 0, all, 0, 13);
        System.arraycopy(losses(rest), 0, all, 13, 17);
        assertArrayEquals(losses(ref), all);
        assertEquals(ref.lastEvaluated().valLoss(), rest.lastEvaluated().valLoss(), 0);
        assertArrayEquals(full.table.data(), resumedModel.table.data());
    }

    @Test
    void resumeRejectsAnotherConfiguration() throws IOException {
        CheckpointDirectory ckpts = new CheckpointDirectory(dir.resolve("c"), 1);
        new Trainer(new BigramModel(1), DATA, CFG.withSteps(3), ckpts).run();
        Checkpoint c = ckpts.latestValid().orElseThrow().checkpoint();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Trainer(new BigramModel(1), DATA, CFG.withSeed(5), null).resume(c));
        assertTrue(e.getMessage().contains("train.seed"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new Trainer(new BigramModel(1), DATA, CFG.withMoments(MomentPrecision.BF16), null).resume(c));
        assertTrue(e.getMessage().contains("train.moments"), e.getMessage());
    }

    /** Returns NaN from forward (or puts NaN into a gradient) from a given step on. */
    static final class Poisoned implements TrainableModel {
        final BigramModel inner = new BigramModel(2);
        final long fromStep;
        final boolean inGradient;
        final double lossFactor;
        long step;

        Poisoned(long fromStep, boolean inGradient, double lossFactor) {
            this.fromStep = fromStep;
            this.inGradient = inGradient;
            this.lossFactor = lossFactor;
        }

        @Override
        public List<Parameter> parameters() {
            return inner.parameters();
        }

        @Override
        public float forward(int[] t, int[] y, int b, int s) {
            float l = inner.forward(t, y, b, s);
            if (step >= fromStep && lossFactor > 0) {
                return (float) (l * lossFactor);
            }
            return step >= fromStep && !inGradient ? Float.NaN : l;
        }

        @Override
        public void backward() {
            inner.backward();
            if (step >= fromStep && inGradient) {
                inner.table.grad()[12345] = Float.POSITIVE_INFINITY;
            }
        }

        @Override
        public float evaluate(int[] t, int[] y, int b, int s) {
            return inner.evaluate(t, y, b, s);
        }

        @Override
        public void setStep(long s, long total) {
            step = s;
        }

        @Override
        public String recipeName() {
            return "poisoned";
        }

        @Override
        public Map<String, String> config() {
            return inner.config();
        }
    }

    @Test
    void nanGuardStopsAndKeepsTheLastGoodCheckpoint() throws IOException {
        CheckpointDirectory ckpts = new CheckpointDirectory(dir.resolve("g"), 3);
        Poisoned m = new Poisoned(17, false, 0);
        TrainingResult r = new Trainer(m, DATA, CFG.withIntervals(10, 2, 5), ckpts).run();
        assertEquals(TrainingResult.Status.NON_FINITE, r.status());
        assertEquals(17, r.stepsCompleted());
        assertTrue(r.message().contains("stopped at step 18: the training loss is NaN"), r.message());
        assertTrue(r.message().contains("last good checkpoint") && r.message().contains("ckpt-0000000015"), r.message());
        Checkpoint last = ckpts.latestValid().orElseThrow().checkpoint();
        assertEquals(15, last.step());
        for (float x : last.parameters().get("bigram.weight").toFloats()) {
            assertTrue(Float.isFinite(x));
        }
        Poisoned g = new Poisoned(4, true, 0);
        TrainingResult rg = new Trainer(g, DATA, CFG, null).run();
        assertEquals(TrainingResult.Status.NON_FINITE, rg.status());
        assertTrue(rg.message().contains("the gradient norm is Infinity"), rg.message());
        for (float x : g.inner.table.data()) {
            assertTrue(Float.isFinite(x), "no update with a non-finite gradient");
        }
    }

    @Test
    void divergenceGuardStops() {
        TrainingResult r = new Trainer(new Poisoned(20, false, 10.0), DATA, CFG, null).run();
        assertEquals(TrainingResult.Status.DIVERGED, r.status());
        assertEquals(20, r.stepsCompleted());
        assertTrue(r.message().contains("diverged"), r.message());
    }

    @Test
    void accumulationMatchesOneLargeBatch() {
        // Two micro-batches of 8 rows read the same windows as one batch of 16 (the sampler's
        // window index is batchIndex·rows + row); the averaged gradient differs only by float
        // rounding of the two partial means, ~1e-7 relative, amplified by a few steps of Adam.
        TrainingConfig big = CFG.withSteps(5).withBatch(16, 32).withMoments(MomentPrecision.FP32);
        TrainingConfig acc = big.withBatch(8, 32).withLr(big.peakLr(), 2);
        TrainingResult a = new Trainer(new BigramModel(3), DATA, big, null).run();
        TrainingResult b = new Trainer(new BigramModel(3), DATA, acc, null).run();
        for (int i = 0; i < 5; i++) {
            assertEquals(losses(a)[i], losses(b)[i], 1e-4, "step " + (i + 1));
        }
    }
}
