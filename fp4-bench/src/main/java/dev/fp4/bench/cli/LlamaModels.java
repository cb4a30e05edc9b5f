package dev.fp4.bench.cli;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.TrainableModel;
import java.util.List;

/** The real models: {@link LlamaConfig} presets under {@link PrecisionRecipe}s. */
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
    public int maxSeq(String preset) {
        return LlamaConfig.preset(preset).maxSeq();
    }

    @Override
    public long parameterCount(String preset) {
        return LlamaConfig.preset(preset).parameterCount();
    }

    @Override
    public TrainableModel create(String preset, String recipe, long seed) {
        return LlamaTrainable.create(preset, recipe, seed);
    }
}
