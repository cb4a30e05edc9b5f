package dev.fp4.nn.recipe;

import java.util.List;
import java.util.Objects;

/** How every linear layer of a model computes its GeMMs (forward, data and weight gradient). */
public final class PrecisionRecipe {
    /** All GeMMs in FP32. */
    public static final PrecisionRecipe FP32 = new PrecisionRecipe("fp32");

    private final String name;

    private PrecisionRecipe(String name) {
        this.name = Objects.requireNonNull(name, "name");
    }

    /** The recipe's name, as recorded by the command line and checkpoints. */
    public String name() {
        return name;
    }

    /** Names accepted by {@link #byName(String)}. */
    public static List<String> names() {
        return List.of("fp32");
    }

    /** A built-in recipe by name; an unknown name lists the valid ones. */
    public static PrecisionRecipe byName(String name) {
        if ("fp32".equals(name)) {
            return FP32;
        }
        throw new IllegalArgumentException("unknown precision recipe '" + name + "'; valid recipes: "
                + String.join(", ", names()));
    }

    @Override
    public String toString() {
        return name;
    }
}
