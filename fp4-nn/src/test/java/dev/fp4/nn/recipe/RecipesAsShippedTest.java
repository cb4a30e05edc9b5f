package dev.fp4.nn.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The recipes as NVIDIA ships them ("Pretraining Large Language Models with NVFP4", arXiv
 * 2509.25149; Transformer Engine's recipe): BF16 for the last ~15% of the blocks, the weight
 * gradient's X operand from the high-precision X, and the late switch to BF16 for any recipe.
 */
class RecipesAsShippedTest {

    /** The blocks whose linear layers {@code r} runs in BF16, in a model of {@code layers} blocks. */
    static List<Integer> bf16Blocks(PrecisionRecipe r, int layers) {
        List<Integer> out = new ArrayList<>();
        for (int layer = 0; layer < layers; layer++) {
            LinearPrecision p = r.precision(LinearRole.FFN_DOWN, layer, layers);
            if (p.forward().a().equals(OperandFormat.BF16)) {
                out.add(layer);
            }
        }
        return out;
    }

    @Test
    void nvfp4KeepsTheLastFifteenPercentOfTheBlocksInBf16FromFourBlocks() {
        PrecisionRecipe r = Recipes.nvfp4();
        assertEquals(List.of(), bf16Blocks(r, 2), "fewer than 4 blocks: all NVFP4");
        assertEquals(List.of(), bf16Blocks(r, 3));
        assertEquals(List.of(3), bf16Blocks(r, 4), "⌈0.6⌉ = 1");
        assertEquals(List.of(6, 7), bf16Blocks(r, 8), "⌈1.2⌉ = 2");
        assertEquals(List.of(27, 28, 29, 30, 31), bf16Blocks(r, 32), "⌈4.8⌉ = 5 of 32");
        assertEquals(OperandFormat.BF16, r.precision(LinearRole.LM_HEAD, -1, 8).forward().a(), "the LM head stays BF16");
        // explicit counts, as Megatron's --first-last-layers-bf16
        assertEquals(List.of(0, 1, 24, 25, 26, 27, 28, 29, 30, 31), bf16Blocks(Recipes.nvfp4("nvfp4-12b", 2, 8), 32));
    }

    @Test
    void nvfp4QuantizesTheWeightGradientsXFromTheInput() {
        LinearPrecision p = Recipes.nvfp4().precision(LinearRole.ATTN_Q, 0, 2);
        assertTrue(p.weightGrad().fromInput());
        assertTrue(!p.forward().fromInput() && !p.dataGrad().fromInput());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.withDataGrad(p.dataGrad().withOperandFromInput()));
        assertEquals("quantizing an operand from the layer's input X applies to the weight gradient only", e.getMessage());
    }

    @Test
    void lateBf16SwitchesAnyRecipeForTheLastFractionOfTheSteps() {
        PrecisionRecipe r = PrecisionRecipe.byName("nvfp4+late-bf16=0.18");
        assertEquals("nvfp4+late-bf16=0.18", r.name());
        assertEquals(0.18, r.targetFraction());
        assertEquals(820, r.switchStep(1000));
        assertSame(r, r.at(819, 1000));
        assertEquals("bf16", r.at(820, 1000).name());
        assertEquals(bf16Blocks(Recipes.nvfp4(), 8), bf16Blocks(r, 8), "the blocks are those of nvfp4 until the switch");
        // a recipe with a schedule gets the new one
        PrecisionRecipe m = PrecisionRecipe.byName("fp4-modulewise+late-bf16=0.3");
        assertEquals(700, m.switchStep(1000));
        assertEquals("bf16", m.at(700, 1000).name());
        assertEquals("fp4-modulewise+late-bf16=0.3", PrecisionRecipe.byName(m.name()).name(), "the name round-trips (checkpoints)");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> PrecisionRecipe.byName("fp32+late-bf16=1.5"));
        assertEquals("target fraction must be in (0, 1), got 1.5", bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class, () -> PrecisionRecipe.byName("fp32+late-bf16=most"));
        assertEquals("late-bf16 fraction must be a number in (0, 1), got 'most' in 'fp32+late-bf16=most'", bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class, () -> PrecisionRecipe.byName("nope+late-bf16=0.1"));
        assertTrue(bad.getMessage().startsWith("unknown precision recipe 'nope'"), bad.getMessage());
    }

    /**
     * nvfp4's transform is TE's: each group x of 16 becomes x·(S·H)/4 with S = diag(TE's signs) and H
     * the Sylvester Hadamard matrix ({@code x_mat @ (H * scale)} after {@code sign_mat @ h}),
     * computed here in double from that definition; ours runs butterflies in FP32, so the two agree
     * to FP32 rounding, not bit for bit.
     */
    @Test
    void nvfp4RotatesWithTransformerEnginesSigns() {
        dev.fp4.core.quant.RandomHadamard h = Recipes.nvfp4().precision(LinearRole.FFN_UP, 0, 2).weightGrad().hadamard();
        assertEquals(16, h.size());
        org.junit.jupiter.api.Assertions.assertArrayEquals(Recipes.TE_RHT_SIGNS, h.signs());
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        float[] x = new float[16];
        for (int i = 0; i < 16; i++) {
            x[i] = (float) r.nextGaussian();
        }
        double[] expected = new double[16];
        for (int j = 0; j < 16; j++) {
            for (int i = 0; i < 16; i++) {
                // (S·H)[i][j] = s_i·(−1)^popcount(i AND j)
                expected[j] += x[i] * Recipes.TE_RHT_SIGNS[i] * (Integer.bitCount(i & j) % 2 == 0 ? 1 : -1) / 4.0;
            }
        }
        float[] y = x.clone();
        h.forward(y, 0, 1, 16);
        for (int j = 0; j < 16; j++) {
            assertEquals(expected[j], y[j], 1e-6, "element " + j);
        }
    }
}
