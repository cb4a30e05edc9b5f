package dev.fp4.nn.recipe;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * A named precision recipe: for every linear layer (by {@link LinearRole} and block index) the
 * {@link LinearPrecision} of its three GeMMs, plus an optional target-precision schedule that
 * switches to another recipe for the last fraction of the training steps.
 *
 * <p>Built-in recipes come from {@link #byName(String)} (names in {@link #names()}, definitions in
 * {@link Recipes}); custom ones from {@link #builder(String)}, for example FP4 feed-forward layers
 * with the DGE and BF16 elsewhere, switching to BF16 for the last 5% of the steps:
 * <pre>{@code
 * OperandFormat fp4 = OperandFormat.fp4(Fp4Scheme.perRow());
 * LinearPrecision ffn = new LinearPrecision(GemmPrecision.both(fp4),
 *         GemmPrecision.both(OperandFormat.E4M3), GemmPrecision.both(OperandFormat.E4M3),
 *         WeightGradientEstimator.dge());
 * PrecisionRecipe r = PrecisionRecipe.builder("ffn-fp4")
 *         .defaults(LinearPrecision.uniform(OperandFormat.BF16))
 *         .feedForward(ffn)
 *         .targetPrecision(PrecisionRecipe.byName("bf16"), 0.05)
 *         .build();
 * }</pre>
 * Rules apply in the order they were added; the last one that matches a layer wins.
 */
public final class PrecisionRecipe {
    /** All GeMMs in FP32. */
    public static final PrecisionRecipe FP32 = builder("fp32").build();

    /** The built-in recipes by name, built on first use (a holder, so FP32 exists before them). */
    private static final class BuiltIn {
        static final Map<String, PrecisionRecipe> RECIPES;

        static {
            Map<String, PrecisionRecipe> m = new LinkedHashMap<>();
            for (Supplier<PrecisionRecipe> s : List.<Supplier<PrecisionRecipe>>of(Recipes::fp32, Recipes::bf16,
                    Recipes::fp8, Recipes::fp4Direct, Recipes::fp4DgeOcc, Recipes::fp4DgeOccOfficial,
                    Recipes::fp4Modulewise, Recipes::nvfp4, Recipes::nvfp4FourOverSix, Recipes::mxfp4, Recipes::mxfp4Nvidia)) {
                PrecisionRecipe r = s.get();
                m.put(r.name(), r);
            }
            RECIPES = Collections.unmodifiableMap(m);
        }
    }

    private final String name;
    private final LinearPrecision defaults;
    private final List<Rule> rules;
    private final PrecisionRecipe target;
    private final double targetFraction;

    private PrecisionRecipe(Builder b) {
        this.name = b.name;
        this.defaults = b.defaults;
        this.rules = List.copyOf(b.rules);
        this.target = b.target;
        this.targetFraction = b.targetFraction;
    }

    /** The recipe's name, as recorded by the command line and checkpoints. */
    public String name() {
        return name;
    }

    /** The precision of the linear layer with {@code role} in block {@code layer} (−1 for the LM head). */
    public LinearPrecision precision(LinearRole role, int layer, int layers) {
        Objects.requireNonNull(role, "role");
        LinearPrecision p = defaults;
        for (Rule r : rules) {
            if (r.selector.matches(role, layer, layers)) {
                p = r.precision;
            }
        }
        return p;
    }

    /** The recipe in force at {@code step} of {@code totalSteps}: this one, or the schedule's target. */
    public PrecisionRecipe at(long step, long totalSteps) {
        if (target != null && totalSteps > 0 && step >= switchStep(totalSteps)) {
            return target.at(step, totalSteps);
        }
        return this;
    }

    /** First step run in the target precision (totalSteps when there is no schedule). */
    public long switchStep(long totalSteps) {
        if (target == null) {
            return totalSteps;
        }
        return totalSteps - Math.round(targetFraction * totalSteps);
    }

    /** The target recipe of the schedule, if any. */
    public Optional<PrecisionRecipe> target() {
        return Optional.ofNullable(target);
    }

    /** Fraction of the steps, at the end of training, run in the target recipe (0 without one). */
    public double targetFraction() {
        return targetFraction;
    }

    /** The suffix of a recipe name that runs its last fraction F of the steps in BF16: {@code NAME+late-bf16=F}. */
    public static final String LATE_BF16 = "+late-bf16=";

    /**
     * This recipe until the last {@code fraction} of the steps, then {@code bf16} (NVIDIA's late
     * switch, which closes most of the remaining gap to BF16), named {@code NAME+late-bf16=F}. A
     * schedule this recipe had is replaced.
     *
     * @throws IllegalArgumentException unless 0 &lt; fraction &lt; 1
     */
    public PrecisionRecipe withLateBf16(double fraction) {
        Builder b = new Builder(name + LATE_BF16 + fraction);
        b.defaults = defaults;
        b.rules.addAll(rules);
        return b.targetPrecision(byName(Recipes.BF16), fraction).build();
    }

    /** Names accepted by {@link #byName(String)}, in a fixed order. */
    public static List<String> names() {
        return List.copyOf(BuiltIn.RECIPES.keySet());
    }

    /**
     * A built-in recipe, or one with the {@link #LATE_BF16} suffix ({@code nvfp4+late-bf16=0.18}).
     *
     * @throws IllegalArgumentException for an unknown name, listing the valid ones
     */
    public static PrecisionRecipe byName(String name) {
        int late = name == null ? -1 : name.indexOf(LATE_BF16);
        if (late > 0) {
            String f = name.substring(late + LATE_BF16.length()).trim();
            double fraction;
            try {
                fraction = Double.parseDouble(f);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("late-bf16 fraction must be a number in (0, 1), got '" + f + "' in '" + name + "'", e);
            }
            return byName(name.substring(0, late)).withLateBf16(fraction);
        }
        PrecisionRecipe r = name == null ? null : BuiltIn.RECIPES.get(name.trim());
        if (r == null) {
            throw new IllegalArgumentException("unknown precision recipe '" + name + "'; valid recipes: "
                    + String.join(", ", names()));
        }
        return r;
    }

    /** A builder for a custom recipe named {@code name} (all FP32 until rules say otherwise). */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    @Override
    public String toString() {
        return name;
    }

    /** Selects linear layers by role and block index (−1 for the LM head). */
    @FunctionalInterface
    public interface Selector {
        /** Whether the layer with {@code role} in block {@code layer} of {@code layers} is selected. */
        boolean matches(LinearRole role, int layer, int layers);
    }

    private record Rule(Selector selector, LinearPrecision precision) {
    }

    /** Composes a recipe from rules; the last matching rule wins. */
    public static final class Builder {
        private final String name;
        private LinearPrecision defaults = LinearPrecision.FP32;
        private final List<Rule> rules = new ArrayList<>();
        private PrecisionRecipe target;
        private double targetFraction;

        private Builder(String name) {
            Objects.requireNonNull(name, "name");
            if (name.isBlank()) {
                throw new IllegalArgumentException("a recipe needs a non-blank name");
            }
            this.name = name;
        }

        /** The precision of every layer no rule selects. */
        public Builder defaults(LinearPrecision p) {
            this.defaults = Objects.requireNonNull(p, "precision");
            return this;
        }

        /** Layers chosen by an arbitrary selector. */
        public Builder when(Selector selector, LinearPrecision p) {
            rules.add(new Rule(Objects.requireNonNull(selector, "selector"), Objects.requireNonNull(p, "precision")));
            return this;
        }

        /** Layers with one of {@code roles}. */
        public Builder roles(Set<LinearRole> roles, LinearPrecision p) {
            Set<LinearRole> set = EnumSet.copyOf(roles);
            return when((role, layer, layers) -> set.contains(role), p);
        }

        /** The attention projections q, k, v, o. */
        public Builder attention(LinearPrecision p) {
            return when((role, layer, layers) -> role.isAttention(), p);
        }

        /** The feed-forward projections gate, up, down. */
        public Builder feedForward(LinearPrecision p) {
            return when((role, layer, layers) -> role.isFeedForward(), p);
        }

        /** The LM head. */
        public Builder lmHead(LinearPrecision p) {
            return roles(EnumSet.of(LinearRole.LM_HEAD), p);
        }

        /** Every linear layer of the first {@code n} blocks. */
        public Builder firstBlocks(int n, LinearPrecision p) {
            nonNegative(n);
            return when((role, layer, layers) -> layer >= 0 && layer < n, p);
        }

        /**
         * Every linear layer of the last ⌈fraction·L⌉ blocks of a model of L blocks, when L is at
         * least {@code minBlocks} (none otherwise): NVIDIA keeps about 15% of the blocks, the last
         * ones, in BF16.
         */
        public Builder lastBlocksFraction(double fraction, int minBlocks, LinearPrecision p) {
            if (!(fraction >= 0 && fraction <= 1)) {
                throw new IllegalArgumentException("block fraction must be in [0, 1], got " + fraction);
            }
            nonNegative(minBlocks);
            return when((role, layer, layers) -> layer >= 0 && layers >= minBlocks
                    && layer >= layers - (int) Math.ceil(fraction * layers), p);
        }

        /** Every linear layer of the last {@code n} blocks. */
        public Builder lastBlocks(int n, LinearPrecision p) {
            nonNegative(n);
            return when((role, layer, layers) -> layer >= 0 && layer >= layers - n, p);
        }

        /**
         * Runs the last {@code fraction} of the steps (0 &lt; fraction &lt; 1) in {@code target}, e.g. the
         * higher precision the model is meant to be used in (the target-precision schedule).
         */
        public Builder targetPrecision(PrecisionRecipe target, double fraction) {
            Objects.requireNonNull(target, "target");
            if (!(fraction > 0 && fraction < 1)) {
                throw new IllegalArgumentException("target fraction must be in (0, 1), got " + fraction);
            }
            this.target = target;
            this.targetFraction = fraction;
            return this;
        }

        /** The recipe. */
        public PrecisionRecipe build() {
            return new PrecisionRecipe(this);
        }

        private static void nonNegative(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("block count must be >= 0, got " + n);
            }
        }
    }
}
