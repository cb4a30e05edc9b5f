package dev.fp4.nn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.checkpoint.TensorData;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.optim.LearningRateSchedule;
import dev.fp4.nn.optim.Optimizer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A trainer with the caller's optimizer and schedule ({@link Trainer.Setup}). */
class TrainerSetupTest {
    static final TextDataset DATA = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).dataset(60_000, 5);
    static final TrainingConfig CFG = TrainingConfig.defaults().withSteps(8).withBatch(2, 32).withIntervals(4, 1, 0);

    @TempDir
    Path dir;

    /** Plain SGD, p ← p − lr·g, recording each update's largest change and the lr it was given. */
    static final class Sgd implements Optimizer {
        final List<Parameter> params;
        long t;
        double lastLr;

        Sgd(List<Parameter> params) {
            this.params = params;
        }

        @Override
        public void step(double lr) {
            for (Parameter p : params) {
                float[] w = p.data();
                float[] g = p.grad();
                for (int i = 0; i < w.length; i++) {
                    w[i] -= (float) lr * g[i];
                }
            }
            lastLr = lr;
            t++;
        }

        @Override
        public long stepCount() {
            return t;
        }

        @Override
        public Map<String, TensorData> stateView() {
            return Map.of("sgd.step", TensorData.ofLong(t));
        }

        @Override
        public void loadState(Map<String, TensorData> state) {
            t = state.get("sgd.step").toLongs()[0];
        }
    }

    @Test
    void theDefaultSetupIsTheLibrarysTraining() {
        TrainingResult plain = new Trainer(LlamaTrainable.create("tiny", "fp4-dge-occ", 4), DATA, CFG, null).run();
        TrainingResult viaSetup = new Trainer(LlamaTrainable.create("tiny", "fp4-dge-occ", 4), DATA, CFG, null, ReplicaGroup.single(),
                Trainer.Setup.defaults(CFG)).run();
        assertArrayEquals(TrainerTest.losses(plain), TrainerTest.losses(viaSetup));
    }

    @Test
    void aCallersOptimizerAndScheduleTrainAndResume() throws java.io.IOException {
        LearningRateSchedule constant = LearningRateSchedule.constant(0.5);
        Trainer.Setup setup = Trainer.Setup.defaults(CFG).withOptimizer(Sgd::new).withSchedule(constant);
        Trainer t = new Trainer(LlamaTrainable.create("tiny", "fp32", 4), DATA, CFG, new CheckpointDirectory(dir, 2),
                ReplicaGroup.single(), setup);
        TrainingResult r = t.run();
        assertEquals(TrainingResult.Status.COMPLETED, r.status(), r.message());
        Sgd sgd = (Sgd) t.optimizer();
        assertEquals(8, sgd.stepCount());
        assertEquals(0.5, sgd.lastLr);
        r.records().forEach(s -> assertEquals(0.5, s.lr(), "step " + s.step()));
        double first = r.records().get(0).trainLoss();
        double last = r.records().get(r.records().size() - 1).trainLoss();
        assertTrue(last < first - 0.5, "SGD at 0.5 should lower the loss: " + first + " -> " + last);

        // the checkpoint holds the caller's optimizer state, and a resumed trainer gets it back
        Trainer again = new Trainer(LlamaTrainable.create("tiny", "fp32", 99), DATA, CFG, new CheckpointDirectory(dir, 2),
                ReplicaGroup.single(), setup);
        assertTrue(again.resumeLatest());
        assertEquals(8, again.optimizer().stepCount());
    }
}
