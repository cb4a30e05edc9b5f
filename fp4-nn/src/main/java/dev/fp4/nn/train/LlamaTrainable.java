package dev.fp4.nn.train;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A {@link LlamaModel} as the {@link Trainer} sees it. The recipe name recorded in checkpoints is
 * the recipe the model was built with (a target-precision schedule switches the effective recipe
 * near the end, but the run's recipe stays the same).
 */
public final class LlamaTrainable implements TrainableModel {
    private final LlamaModel model;
    private final String recipe;
    private double[] positionLoss = new double[0];

    /** Wraps a model. */
    public LlamaTrainable(LlamaModel model) {
        this.model = Objects.requireNonNull(model, "model");
        this.recipe = model.recipe().name();
    }

    /** A new seeded model of a preset under a recipe, both by name (errors list the valid names). */
    public static LlamaTrainable create(String preset, String recipe, long seed) {
        return new LlamaTrainable(new LlamaModel(LlamaConfig.preset(preset), PrecisionRecipe.byName(recipe), seed));
    }

    /** The wrapped model. */
    public LlamaModel model() {
        return model;
    }

    @Override
    public List<Parameter> parameters() {
        return model.parameters();
    }

    @Override
    public float forward(int[] tokens, int[] targets, int batch, int seq) {
        return model.forward(tokens, targets, batch, seq);
    }

    @Override
    public void backward() {
        model.backward();
    }

    @Override
    public void backward(Consumer<Parameter> ready) {
        model.backward(ready);
    }

    @Override
    public void setRoundingSeed(long seed) {
        model.setRoundingSeed(seed);
    }

    @Override
    public void setMicroBatch(int index) {
        model.setMicroBatch(index);
    }

    @Override
    public float evaluate(int[] tokens, int[] targets, int batch, int seq) {
        return model.evaluate(tokens, targets, batch, seq);
    }

    /** One batched call; each row's mean of its per-position losses, summed in double. */
    @Override
    public void evaluateRows(int[] tokens, int[] targets, int batch, int seq, double[] rowLoss) {
        if (positionLoss.length < batch * seq) {
            positionLoss = new double[batch * seq];
        }
        model.evaluate(tokens, targets, batch, seq, positionLoss);
        for (int b = 0; b < batch; b++) {
            double sum = 0;
            for (int i = 0; i < seq; i++) {
                sum += positionLoss[b * seq + i];
            }
            rowLoss[b] = sum / seq;
        }
    }

    @Override
    public void setStep(long step, long totalSteps) {
        model.setStep(step, totalSteps);
    }

    @Override
    public String recipeName() {
        return recipe;
    }

    /** The {@link LlamaConfig} fields, prefixed {@code model.} ({@link LlamaConfig#asMap()}). */
    @Override
    public Map<String, String> config() {
        return model.config().asMap();
    }
}
