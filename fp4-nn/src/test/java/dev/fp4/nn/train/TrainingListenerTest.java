package dev.fp4.nn.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The callbacks a {@link Trainer} makes: evaluations, the end of a run, a failure. */
class TrainingListenerTest {
    static final TextDataset DATA = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).dataset(60_000, 5);

    /** Records every callback as a line. */
    static class Events implements TrainingListener {
        final List<String> lines = new ArrayList<>();

        @Override
        public void onEvaluation(long step, double validationLoss) {
            lines.add("evaluation " + step + " " + validationLoss);
        }

        @Override
        public void onError(long step, RuntimeException error) {
            lines.add("error " + step + " " + error.getClass().getSimpleName());
        }

        @Override
        public void onStop(TrainingResult result) {
            lines.add("stop " + result.status() + " " + result.stepsCompleted());
        }
    }

    @Test
    void evaluationsThenOneStopAtTheEnd() {
        TrainingConfig cfg = TrainingConfig.defaults().withSteps(6).withBatch(2, 32).withIntervals(3, 1, 0);
        Events e = new Events();
        TrainingResult r = new Trainer(LlamaTrainable.create("tiny", "fp32", 3), DATA, cfg, null).run(e);
        assertEquals(TrainingResult.Status.COMPLETED, r.status(), r.message());
        List<String> expected = new ArrayList<>();
        for (StepRecord s : r.records()) {
            if (s.evaluated()) {
                expected.add("evaluation " + s.step() + " " + s.valLoss());
            }
        }
        expected.add("stop COMPLETED 6");
        assertEquals(List.of(3L, 6L), r.records().stream().filter(StepRecord::evaluated).map(StepRecord::step).toList());
        assertEquals(expected, e.lines);
    }

    @Test
    void aFailingModelReportsTheErrorThenStops() {
        // vocab 2^20 × 2,048 tokens: the logits would hold 2^31 floats (a CapacityException)
        LlamaConfig shape = new LlamaConfig(1 << 20, 8, 1, 1, 1, 16, 2048);
        LlamaTrainable m = new LlamaTrainable(new LlamaModel(shape, PrecisionRecipe.FP32, 1));
        TextDataset data = TextDataset.fromBytes("bytes", MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).sample(30_000, 1));
        Events e = new Events();
        TrainingResult r = new Trainer(m, data, TrainingConfig.defaults().withSteps(2).withBatch(1, 2048), null).run(e);
        assertEquals(TrainingResult.Status.FAILED, r.status(), r.message());
        assertEquals(List.of("error 1 CapacityException", "stop FAILED 0"), e.lines);
    }

    @Test
    void aStopRequestEndsWithInterrupted() {
        TrainingConfig cfg = TrainingConfig.defaults().withSteps(50).withBatch(2, 32).withIntervals(100, 1, 0);
        Trainer t = new Trainer(LlamaTrainable.create("tiny", "fp32", 3), DATA, cfg, null);
        Events e = new Events() {
            @Override
            public void onStep(StepRecord record, long totalSteps) {
                if (record.step() == 2) {
                    t.requestStop();
                }
            }
        };
        TrainingResult r = t.run(e);
        assertEquals(TrainingResult.Status.INTERRUPTED, r.status(), r.message());
        assertTrue(e.lines.equals(List.of("stop INTERRUPTED 2")), e.lines.toString());
    }
}
