package dev.fp4.examples;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.nn.train.TrainingResult;

/** The README's example: train a small LLaMA under an FP4 recipe, then quantize a tensor to NVFP4. */
public final class TrainAndQuantize {
    public static void main(String[] args) {
        // A model, a recipe and a seed: the same seed gives the same weights and the same losses.
        LlamaModel model = new LlamaModel(LlamaConfig.tiny(), PrecisionRecipe.byName("fp4-dge-occ"), 42);
        TextDataset data = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).dataset(100_000, 1);
        TrainingConfig config = TrainingConfig.defaults().withSteps(20).withBatch(4, 64).withIntervals(10, 2, 0);
        TrainingResult result = new Trainer(new LlamaTrainable(model), data, config, null).run();
        for (StepRecord s : result.records()) {
            System.out.printf(java.util.Locale.ROOT, "step %d loss %.6f%n", s.step(), s.trainLoss());
        }

        // NVFP4: E2M1 codes with an E4M3 scale per 16 values and an FP32 tensor scale.
        float[] x = {0.1f, -0.5f, 0.75f, 1.5f, -2f, 3f, 4.5f, -6f, 0.2f, 0.3f, -1f, 2.5f, 5f, -0.05f, 0f, 1.25f};
        Fp4Tensor q = Fp4Tensor.quantize(x, 1, 16, Fp4Scheme.nvfp4());
        System.out.println("nvfp4 codes " + java.util.Arrays.toString(java.util.stream.IntStream.range(0, 16)
                .map(c -> q.code(0, c)).toArray()) + " dequantized " + java.util.Arrays.toString(q.dequantize()));
    }
}
