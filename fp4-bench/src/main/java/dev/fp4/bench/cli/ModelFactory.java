package dev.fp4.bench.cli;

import dev.fp4.nn.train.TrainableModel;
import java.util.List;

/** Builds the models the command line trains: one per (preset, recipe, seed). */
public interface ModelFactory {
    /** Valid preset names, the default first. */
    List<String> presets();

    /** Valid recipe names. */
    List<String> recipes();

    /** The context length of a preset (the default sequence length of a run). */
    int maxSeq(String preset);

    /** Number of parameters of a preset (for the report). */
    long parameterCount(String preset);

    /**
     * A freshly initialised model.
     *
     * @throws IllegalArgumentException for an unknown preset or recipe, listing the valid ones
     */
    TrainableModel create(String preset, String recipe, long seed);
}
