package dev.fp4.nn.train;

import dev.fp4.nn.Parameter;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A bigram language model (logits = table row of the current token) with explicit forward and
 * backward: small, fast and deterministic, for testing the trainer without the LLaMA model.
 */
final class BigramModel implements TrainableModel {
    static final int V = 256;
    final Parameter table = new Parameter("bigram.weight", V, V);
    private float[] probs = new float[0];
    private int[] lastTargets;
    private int[] lastTokens;
    private int n;
    long lastStep = -1;

    BigramModel(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] w = table.data();
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (0.02 * r.nextGaussian());
        }
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(table);
    }

    private float loss(int[] tokens, int[] targets, int count, boolean keep) {
        if (keep && probs.length < count * V) {
            probs = new float[count * V];
        }
        float[] w = table.data();
        double total = 0;
        float[] row = new float[V];
        for (int i = 0; i < count; i++) {
            int base = tokens[i] * V;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < V; j++) {
                max = Math.max(max, w[base + j]);
            }
            float sum = 0;
            for (int j = 0; j < V; j++) {
                row[j] = (float) Math.exp(w[base + j] - max);
                sum += row[j];
            }
            total += Math.log(sum) - (w[base + targets[i]] - max);
            if (keep) {
                for (int j = 0; j < V; j++) {
                    probs[i * V + j] = row[j] / sum;
                }
            }
        }
        return (float) (total / count);
    }

    @Override
    public float forward(int[] tokens, int[] targets, int batch, int seq) {
        n = batch * seq;
        lastTokens = tokens.clone();
        lastTargets = targets.clone();
        return loss(tokens, targets, n, true);
    }

    @Override
    public void backward() {
        float[] g = table.grad();
        float inv = 1f / n;
        for (int i = 0; i < n; i++) {
            int base = lastTokens[i] * V;
            for (int j = 0; j < V; j++) {
                float d = probs[i * V + j] - (j == lastTargets[i] ? 1f : 0f);
                g[base + j] += d * inv;
            }
        }
    }

    @Override
    public float evaluate(int[] tokens, int[] targets, int batch, int seq) {
        return loss(tokens, targets, batch * seq, false);
    }

    @Override
    public void setStep(long step, long totalSteps) {
        lastStep = step;
    }

    @Override
    public String recipeName() {
        return "fp32-bigram";
    }

    @Override
    public Map<String, String> config() {
        return Map.of("model", "bigram", "vocab", Integer.toString(V));
    }
}
