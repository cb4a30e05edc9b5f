package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@code tiny} model memorises one fixed batch: the loss must fall below 0.1 within a few
 * hundred steps. A plain Adam step (no weight decay, no schedule) written here keeps the test
 * independent of the library's optimizer.
 */
class OverfitTest {
    static final int BATCH = 2;
    static final int SEQ = 32;
    static final int MAX_STEPS = 300;

    /** Runs Adam on one fixed batch; returns the first step's loss and the loss when it fell below 0.1. */
    static float[] overfit(PrecisionRecipe recipe) {
        LlamaConfig config = LlamaConfig.tiny();
        LlamaModel model = new LlamaModel(config, recipe, 7);
        SplittableRandom r = new SplittableRandom(99);
        int n = BATCH * SEQ;
        int[] stream = new int[n + 1];
        for (int i = 0; i < stream.length; i++) {
            stream[i] = r.nextInt(config.vocab());
        }
        int[] tokens = java.util.Arrays.copyOf(stream, n);
        int[] targets = java.util.Arrays.copyOfRange(stream, 1, n + 1);
        Adam adam = new Adam(model, 3e-3f);
        float first = Float.NaN;
        float loss = Float.NaN;
        int step = 0;
        for (; step < MAX_STEPS; step++) {
            model.setStep(step, MAX_STEPS);
            model.parameters().forEach(Parameter::zeroGrad);
            loss = model.forward(tokens, targets, BATCH, SEQ);
            if (step == 0) {
                first = loss;
            }
            if (loss < 0.1f) {
                break;
            }
            model.backward();
            adam.step();
        }
        return new float[] {first, loss, step};
    }

    @ParameterizedTest
    @ValueSource(strings = {"fp32"})
    void tinyModelMemorisesOneBatch(String recipe) {
        float[] result = overfit(PrecisionRecipe.byName(recipe));
        System.out.printf("overfit %s: loss %.4f -> %.4f in %d steps%n", recipe, result[0], result[1], (int) result[2]);
        // ln(256) = 5.55 for uniform predictions over the vocabulary at initialisation.
        assertTrue(Math.abs(result[0] - Math.log(256)) < 0.1, () -> "initial loss " + result[0]);
        assertTrue(result[1] < 0.1f, () -> recipe + ": loss still " + result[1] + " after " + MAX_STEPS + " steps");
    }

    /** Adam (Kingma and Ba) with bias correction, β = (0.9, 0.999), ε = 1e-8. */
    static final class Adam {
        private final java.util.List<Parameter> params;
        private final float[][] m;
        private final float[][] v;
        private final float lr;
        private int t;

        Adam(LlamaModel model, float lr) {
            this.params = model.parameters();
            this.m = new float[params.size()][];
            this.v = new float[params.size()][];
            for (int i = 0; i < params.size(); i++) {
                m[i] = new float[params.get(i).size()];
                v[i] = new float[params.get(i).size()];
            }
            this.lr = lr;
        }

        void step() {
            t++;
            double c1 = 1 - Math.pow(0.9, t);
            double c2 = 1 - Math.pow(0.999, t);
            for (int i = 0; i < params.size(); i++) {
                float[] w = params.get(i).data();
                float[] g = params.get(i).grad();
                for (int j = 0; j < w.length; j++) {
                    m[i][j] = 0.9f * m[i][j] + 0.1f * g[j];
                    v[i][j] = 0.999f * v[i][j] + 0.001f * g[j] * g[j];
                    w[j] -= (float) (lr * (m[i][j] / c1) / (Math.sqrt(v[i][j] / c2) + 1e-8));
                }
            }
        }
    }
}
