package dev.fp4.bench.cli;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.train.TrainableModel;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A stand-in model factory for the command-line tests: a bigram model (logits = table row of the
 * current token) with explicit forward/backward, under the default recipe names.
 */
final class FakeModels implements ModelFactory {
    @Override
    public List<String> presets() {
        return List.of("tiny", "small");
    }

    @Override
    public List<String> recipes() {
        return List.of("bf16", "fp4-direct", "fp4-dge-occ", "fp4-modulewise");
    }

    /** Only maxSeq (16 or 32) and the vocabulary matter to the bigram. */
    @Override
    public LlamaConfig preset(String name) {
        return new LlamaConfig(256, 8, 1, 1, 1, 8, name.equals("tiny") ? 16 : 32);
    }

    @Override
    public TrainableModel create(LlamaConfig shape, String recipe, long seed) {
        return new Bigram(recipe, seed);
    }

    static final class Bigram implements TrainableModel {
        static final int V = 256;
        final Parameter table = new Parameter("bigram.weight", V, V);
        final String recipe;
        float[] probs = new float[0];
        int[] tokens;
        int[] targets;
        int n;

        Bigram(String recipe, long seed) {
            this.recipe = recipe;
            SplittableRandom r = new SplittableRandom(seed);
            for (int i = 0; i < table.size(); i++) {
                table.data()[i] = (float) (0.02 * r.nextGaussian());
            }
        }

        @Override
        public List<Parameter> parameters() {
            return List.of(table);
        }

        private float loss(int[] t, int[] y, int count, boolean keep) {
            if (keep && probs.length < count * V) {
                probs = new float[count * V];
            }
            float[] w = table.data();
            double total = 0;
            for (int i = 0; i < count; i++) {
                int base = t[i] * V;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < V; j++) {
                    max = Math.max(max, w[base + j]);
                }
                double sum = 0;
                for (int j = 0; j < V; j++) {
                    sum += Math.exp(w[base + j] - max);
                }
                total += Math.log(sum) - (w[base + y[i]] - max);
                if (keep) {
                    for (int j = 0; j < V; j++) {
                        probs[i * V + j] = (float) (Math.exp(w[base + j] - max) / sum);
                    }
                }
            }
            return (float) (total / count);
        }

        @Override
        public float forward(int[] t, int[] y, int batch, int seq) {
            n = batch * seq;
            tokens = t.clone();
            targets = y.clone();
            return loss(t, y, n, true);
        }

        @Override
        public void backward() {
            float[] g = table.grad();
            for (int i = 0; i < n; i++) {
                int base = tokens[i] * V;
                for (int j = 0; j < V; j++) {
                    g[base + j] += (probs[i * V + j] - (j == targets[i] ? 1f : 0f)) / n;
                }
            }
        }

        @Override
        public float evaluate(int[] t, int[] y, int batch, int seq) {
            return loss(t, y, batch * seq, false);
        }

        @Override
        public void setStep(long step, long totalSteps) {
        }

        @Override
        public String recipeName() {
            return recipe;
        }

        @Override
        public Map<String, String> config() {
            return Map.of("model", "bigram");
        }
    }
}
