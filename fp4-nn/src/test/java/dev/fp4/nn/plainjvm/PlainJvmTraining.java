package dev.fp4.nn.plainjvm;

import dev.fp4.core.simd.Simd;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * A few steps of the tiny model under every recipe, printed as the exact bits of each step's loss and
 * gradient norm: run in this JVM by {@link PlainJvmTrainingTest} and as the main class of JVMs
 * started without the Vector API module. Its package is none of the library's, so it also runs from
 * the class path beside the library on the module path.
 */
public final class PlainJvmTraining {
    private PlainJvmTraining() {
    }

    /** One line per recipe: its name, then loss-bits/grad-norm-bits per step. */
    static List<String> run() {
        TextDataset data = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).dataset(50_000, 3);
        TrainingConfig cfg = TrainingConfig.defaults().withSteps(3).withBatch(4, 64).withIntervals(3, 2, 0);
        List<String> lines = new ArrayList<>();
        for (String recipe : PrecisionRecipe.names()) {
            var result = new Trainer(LlamaTrainable.create("tiny", recipe, 7), data, cfg, null).run();
            StringBuilder b = new StringBuilder(recipe);
            for (StepRecord s : result.records()) {
                b.append(' ').append(Long.toHexString(Double.doubleToRawLongBits(s.trainLoss())))
                        .append('/').append(Long.toHexString(Double.doubleToRawLongBits(s.gradNorm())));
            }
            lines.add(b.toString());
        }
        return lines;
    }

    /** Prints the kernels in use, then {@link #run}'s lines. */
    public static void main(String[] args) {
        System.out.println("kernels: " + Simd.describe());
        run().forEach(System.out::println);
    }
}
