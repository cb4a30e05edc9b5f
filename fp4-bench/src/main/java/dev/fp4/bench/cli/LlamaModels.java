package dev.fp4.bench.cli;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.TrainableModel;
import java.util.List;

/** The real models: {@link LlamaConfig} shapes under {@link PrecisionRecipe}s. */
public final class LlamaModels implements ModelFactory {
    @Override
    public List<String> presets() {
        return LlamaConfig.PRESETS;
    }

    @Override
    public List<String> recipes() {
        return PrecisionRecipe.names();
    }

    @Override
    public LlamaConfig preset(String name) {
        return LlamaConfig.preset(name);
    }

    @Override
    public TrainableModel create(LlamaConfig shape, String recipe, long seed) {
        return new LlamaTrainable(new LlamaModel(shape, PrecisionRecipe.byName(recipe), seed));
    }
}
