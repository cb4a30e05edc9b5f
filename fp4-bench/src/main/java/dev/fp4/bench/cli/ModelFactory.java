package dev.fp4.bench.cli;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.train.TrainableModel;
import java.util.List;

/** Builds the models the command line trains: one per (shape, recipe, seed). */
public interface ModelFactory {
    /** Valid preset names, the default first. */
    List<String> presets();

    /** Valid recipe names. */
    List<String> recipes();

    /**
     * The shape of a preset (before the command line's overrides).
     *
     * @throws IllegalArgumentException for an unknown preset, listing the valid ones
     */
    LlamaConfig preset(String name);

    /**
     * A freshly initialised model of a shape.
     *
     * @throws IllegalArgumentException for an unknown recipe, listing the valid ones
     */
    TrainableModel create(LlamaConfig shape, String recipe, long seed);
}
