package dev.fp4.nn.train;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.LinkedHashMap;
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

    /** Wraps a model. */
    public LlamaTrainable(LlamaModel model) {
        this.model = Objects.requireNonNull(model, "model");
        this.recipe = model.recipe().name();
    }

    /** A new seeded model of a preset under a recipe, both by name (errors list the valid names). */
    public static LlamaTrainable create(String preset, String recipe, long seed) {
        return new LlamaTrainable(new LlamaModel(LlamaConfig.preset(preset), PrecisionRecipe.byName(recipe), seed));
    }

    /**
     * The model a checkpoint holds: its configuration (the {@code model.*} entries written by
     * {@link #config()}), its recipe (or {@code recipe} when not null), its parameters.
     *
     * @throws IllegalArgumentException naming a missing or malformed configuration entry
     */
    public static LlamaTrainable restore(dev.fp4.nn.checkpoint.Checkpoint c, String recipe) {
        LlamaConfig config = configOf(c.config());
        LlamaModel m = new LlamaModel(config, PrecisionRecipe.byName(recipe != null ? recipe : c.recipe()), 0);
        c.restoreParameters(m.parameters());
        return new LlamaTrainable(m);
    }

    /** The {@link LlamaConfig} of {@code model.*} entries, as {@link #config()} writes them. */
    public static LlamaConfig configOf(Map<String, String> m) {
        try {
            return new LlamaConfig(Integer.parseInt(need(m, "model.vocab")), Integer.parseInt(need(m, "model.dim")),
                    Integer.parseInt(need(m, "model.layers")), Integer.parseInt(need(m, "model.heads")),
                    Integer.parseInt(need(m, "model.kv_heads")), Integer.parseInt(need(m, "model.ffn_dim")),
                    Integer.parseInt(need(m, "model.max_seq")), Boolean.parseBoolean(need(m, "model.tied_embeddings")),
                    Float.parseFloat(need(m, "model.norm_eps")), Float.parseFloat(need(m, "model.rope_theta")));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("malformed model configuration: " + e.getMessage(), e);
        }
    }

    private static String need(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) {
            throw new IllegalArgumentException("the configuration has no " + key);
        }
        return v;
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

    @Override
    public void setStep(long step, long totalSteps) {
        model.setStep(step, totalSteps);
    }

    @Override
    public String recipeName() {
        return recipe;
    }

    /** The {@link LlamaConfig} fields, prefixed {@code model.}. */
    @Override
    public Map<String, String> config() {
        LlamaConfig c = model.config();
        Map<String, String> m = new LinkedHashMap<>();
        m.put("model.vocab", Integer.toString(c.vocab()));
        m.put("model.dim", Integer.toString(c.dim()));
        m.put("model.layers", Integer.toString(c.layers()));
        m.put("model.heads", Integer.toString(c.heads()));
        m.put("model.kv_heads", Integer.toString(c.kvHeads()));
        m.put("model.ffn_dim", Integer.toString(c.ffnDim()));
        m.put("model.max_seq", Integer.toString(c.maxSeq()));
        m.put("model.tied_embeddings", Boolean.toString(c.tiedEmbeddings()));
        m.put("model.norm_eps", Float.toString(c.normEps()));
        m.put("model.rope_theta", Float.toString(c.ropeTheta()));
        return m;
    }
}
