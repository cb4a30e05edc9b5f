package dev.fp4.nn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.optim.MomentPrecision;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Determinism and exact resume of the real model (tiny preset, a few steps) under every built-in recipe. */
class LlamaTrainerTest {
    static final TextDataset DATA = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).dataset(100_000, 9);
    static final TrainingConfig CFG = TrainingConfig.defaults().withSteps(6).withBatch(2, 32).withIntervals(3, 1, 0)
            .withMoments(MomentPrecision.FP8_FP16);

    @TempDir
    Path dir;

    static List<String> recipes() {
        return PrecisionRecipe.names();
    }

    @ParameterizedTest
    @MethodSource("recipes")
    void sameSeedSameLossesAndResumeIsExact(String recipe) throws IOException {
        LlamaTrainable a = LlamaTrainable.create("tiny", recipe, 11);
        TrainingResult ra = new Trainer(a, DATA, CFG, null).run();
        TrainingResult rb = new Trainer(LlamaTrainable.create("tiny", recipe, 11), DATA, CFG, null).run();
        assertEquals(TrainingResult.Status.COMPLETED, ra.status(), ra.message());
        assertArrayEquals(TrainerTest.losses(ra), TrainerTest.losses(rb));
        assertTrue(ra.records().get(0).trainLoss() > 5.0, "starts near ln 256");

        CheckpointDirectory ck = new CheckpointDirectory(dir.resolve(recipe), 2);
        Trainer first = new Trainer(LlamaTrainable.create("tiny", recipe, 11), DATA, CFG, ck);
        TrainingResult part = first.run(new TrainingListener() {
            @Override
            public void onStep(StepRecord r, long total) {
                if (r.step() == 2) {
                    first.requestStop();
                }
            }
        });
        assertEquals(2, part.stepsCompleted());
        LlamaTrainable resumed = LlamaTrainable.create("tiny", recipe, 999);
        Trainer second = new Trainer(resumed, DATA, CFG, ck);
        assertTrue(second.resumeLatest());
        TrainingResult rest = second.run();
        double[] all = new double[6];
        System.arraycopy(TrainerTest.losses(part), 0, all, 0, 2);
        System.arraycopy(TrainerTest.losses(rest), 0, all, 2, 4);
        assertArrayEquals(TrainerTest.losses(ra), all);
        List<Parameter> pa = a.parameters();
        List<Parameter> pr = resumed.parameters();
        for (int i = 0; i < pa.size(); i++) {
            assertArrayEquals(pa.get(i).data(), pr.get(i).data(), pa.get(i).name());
        }
    }
}
