package dev.fp4.nn.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.OutlierClamp;
import dev.fp4.core.quant.RandomHadamard;
import dev.fp4.core.quant.Rounding;
import dev.fp4.core.quant.ScaleRule;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Linear;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PrecisionRecipeTest {
    /** A format distinct from FP32 for rule tests (never run through a GeMM here). */
    static final OperandFormat MARK = new OperandFormat() {
        @Override
        public String name() {
            return "mark";
        }

        @Override
        public Quantizer newQuantizer() {
            return OperandFormat.FP32.newQuantizer();
        }
    };

    static final LinearPrecision MARKED = LinearPrecision.uniform(MARK);

    @Test
    void unknownNameListsTheValidOnes() {
        var e = assertThrows(IllegalArgumentException.class, () -> PrecisionRecipe.byName("fp5"));
        assertTrue(e.getMessage().contains("fp5"), e.getMessage());
        for (String n : PrecisionRecipe.names()) {
            assertTrue(e.getMessage().contains(n), e.getMessage());
            assertEquals(n, PrecisionRecipe.byName(n).name());
        }
        var nul = assertThrows(IllegalArgumentException.class, () -> PrecisionRecipe.byName(null));
        assertTrue(nul.getMessage().contains("fp4-dge-occ-official"), nul.getMessage());
    }

    /** What one linear layer gets: the six operand formats, estimator, clamping and Hadamard size (0 = none). */
    record Row(OperandFormat fa, OperandFormat fb, OperandFormat da, OperandFormat db, OperandFormat wa,
               OperandFormat wb, String estimator, OutlierClamping clamping, int hadamard) {
        static Row uniform(OperandFormat f) {
            return new Row(f, f, f, f, f, f, "ste", null, 0);
        }

        static Row of(LinearPrecision p) {
            RandomHadamard h = p.weightGrad().hadamard();
            assertEquals(null, p.dataGrad().hadamard(), "no recipe rotates the data gradient");
            return new Row(p.forward().a(), p.forward().b(), p.dataGrad().a(), p.dataGrad().b(), p.weightGrad().a(),
                    p.weightGrad().b(), p.estimator().name(), p.clamping(), h == null ? 0 : h.size());
        }
    }

    static final OperandFormat BF = OperandFormat.BF16;
    static final OperandFormat E4 = OperandFormat.E4M3;
    static final OperandFormat E5 = OperandFormat.E5M2;
    static final OperandFormat ROW = OperandFormat.fp4(Fp4Scheme.perRow());

    /**
     * The recipe table (docs/recipes.md): for every named recipe, what the attention projections,
     * the feed-forward projections (in every block) and the LM head get.
     */
    @Test
    void everyNamedRecipeGivesEachRoleItsFormats() {
        OperandFormat offX = OperandFormat.fp4(Fp4Scheme.perRow().withRounding(Rounding.HALF_UP)
                .withScaleRule(ScaleRule.OFFICIAL_BF16));
        OperandFormat offW = OperandFormat.fp4(Fp4Scheme.perColumn().withRounding(Rounding.HALF_UP)
                .withScaleRule(ScaleRule.OFFICIAL_BF16));
        OperandFormat fine = OperandFormat.fp4(Fp4Scheme.blocks(1, 32, ScaleRule.POWER_OF_TWO));
        OperandFormat nv = OperandFormat.fp4(Fp4Scheme.nvfp4());
        OperandFormat nv2d = OperandFormat.fp4(Fp4Scheme.nvfp4_2d());
        OperandFormat nvSr = OperandFormat.fp4(Fp4Scheme.nvfp4().withRounding(Rounding.stochastic(Recipes.SR_SEED)));
        OperandFormat mx = OperandFormat.fp4(Fp4Scheme.mxfp4());
        OperandFormat mxSr = OperandFormat.fp4(Fp4Scheme.mxfp4().withRounding(Rounding.stochastic(Recipes.SR_SEED)));
        OutlierClamping occ = new OutlierClamping(0.99, OutlierClamp.Granularity.PER_TENSOR, true);
        OutlierClamping official = new OutlierClamping(0.99, OutlierClamp.Granularity.PER_ROW, false);
        Row fp32 = Row.uniform(OperandFormat.FP32);
        Row bf16 = Row.uniform(BF);
        Row fp8 = new Row(E4, E4, E5, E4, E5, E4, "ste", null, 0);
        Row direct = new Row(ROW, ROW, E4, E4, E4, E4, "ste", null, 0);
        Row dgeOcc = new Row(ROW, ROW, E4, E4, E4, E4, "dge(k=5)", occ, 0);
        Row dgeOccOfficial = new Row(offX, offW, E4, E4, E4, E4, "dge(k=5)", official, 0);
        Row moduleAttn = Row.uniform(E4);
        Row moduleFfn = new Row(fine, fine, E4, E4, E4, E4, "ste", null, 0);
        Row nvfp4 = new Row(nv, nv2d, nvSr, nv2d, nvSr, nv, "ste", null, 16);
        Row mxfp4 = new Row(mx, mx, mxSr, mx, mxSr, mx, "ste", null, 0);
        OperandFormat mxUp = OperandFormat.fp4(Fp4Scheme.blocks(1, 32, ScaleRule.MX_RCEIL));
        OperandFormat mxUpSr = OperandFormat.fp4(Fp4Scheme.blocks(1, 32, ScaleRule.MX_RCEIL)
                .withRounding(Rounding.stochastic(Recipes.SR_SEED)));
        Row mxfp4Nvidia = new Row(mxUp, mxUp, mxUpSr, mxUp, mxUpSr, mxUp, "ste", null, 32);
        // recipe -> {attention, feed-forward, LM head}
        Map<String, List<Row>> table = new java.util.LinkedHashMap<>();
        table.put("fp32", List.of(fp32, fp32, fp32));
        table.put("bf16", List.of(bf16, bf16, bf16));
        table.put("fp8", List.of(fp8, fp8, bf16));
        table.put("fp4-direct", List.of(direct, direct, bf16));
        table.put("fp4-dge-occ", List.of(dgeOcc, dgeOcc, bf16));
        table.put("fp4-dge-occ-official", List.of(dgeOccOfficial, dgeOccOfficial, bf16));
        table.put("fp4-modulewise", List.of(moduleAttn, moduleFfn, bf16));
        table.put("nvfp4", List.of(nvfp4, nvfp4, bf16));
        OperandFormat fos = OperandFormat.fp4(Fp4Scheme.nvfp4FourOverSix());
        OperandFormat fos2d = OperandFormat.fp4(Fp4Scheme.nvfp4FourOverSix2d());
        OperandFormat fosSr = OperandFormat.fp4(Fp4Scheme.nvfp4FourOverSix().withRounding(Rounding.stochastic(Recipes.SR_SEED)));
        Row nvfp4FourOverSix = new Row(fos, fos2d, fosSr, fos2d, fosSr, fos, "ste", null, 16);
        table.put("nvfp4-4over6", List.of(nvfp4FourOverSix, nvfp4FourOverSix, bf16));
        table.put("mxfp4", List.of(mxfp4, mxfp4, bf16));
        table.put("mxfp4-nvidia", List.of(mxfp4Nvidia, mxfp4Nvidia, bf16));
        assertEquals(List.copyOf(table.keySet()), PrecisionRecipe.names());
        int layers = 3;
        for (var e : table.entrySet()) {
            PrecisionRecipe r = PrecisionRecipe.byName(e.getKey());
            assertSame(r, PrecisionRecipe.byName(" " + e.getKey() + " "), "one instance per name");
            for (LinearRole role : LinearRole.values()) {
                int col = role == LinearRole.LM_HEAD ? 2 : role.isAttention() ? 0 : 1;
                Row want = e.getValue().get(col);
                int from = role == LinearRole.LM_HEAD ? -1 : 0;
                int to = role == LinearRole.LM_HEAD ? -1 : layers - 1;
                for (int l = from; l <= to; l++) {
                    assertEquals(want, Row.of(r.precision(role, l, layers)), e.getKey() + " " + role + " block " + l);
                }
            }
            boolean scheduled = e.getKey().equals("fp4-modulewise");
            assertEquals(scheduled, r.target().isPresent(), e.getKey() + " schedule");
        }
    }

    @Test
    void modulewiseSwitchesToBf16ForTheLastTenthOfTheSteps() {
        PrecisionRecipe r = PrecisionRecipe.byName("fp4-modulewise");
        assertEquals("bf16", r.target().orElseThrow().name());
        assertEquals(0.1, r.targetFraction());
        assertEquals(900, r.switchStep(1000));
        assertSame(r, r.at(899, 1000));
        assertEquals("bf16", r.at(900, 1000).name());
        PrecisionRecipe custom = Recipes.fp4Modulewise("mw-128", 128, PrecisionRecipe.FP32, 0.25);
        assertEquals(OperandFormat.fp4(Fp4Scheme.blocks(1, 128, ScaleRule.POWER_OF_TWO)),
                custom.precision(LinearRole.FFN_GATE, 0, 2).forward().a());
        assertEquals(75, custom.switchStep(100));
        assertSame(PrecisionRecipe.FP32, custom.at(80, 100));
        assertThrows(IllegalArgumentException.class, () -> Recipes.fp4Modulewise("x", 0, PrecisionRecipe.FP32, 0.1));
    }

    @Test
    void nvfp4KeepsTheChosenFirstAndLastBlocksInBf16() {
        PrecisionRecipe r = Recipes.nvfp4("nvfp4-edges", 1, 1);
        LinearPrecision bf16 = LinearPrecision.uniform(OperandFormat.BF16);
        assertEquals(bf16, r.precision(LinearRole.ATTN_Q, 0, 4));
        assertEquals(bf16, r.precision(LinearRole.FFN_DOWN, 3, 4));
        assertEquals(OperandFormat.fp4(Fp4Scheme.nvfp4()), r.precision(LinearRole.ATTN_Q, 1, 4).forward().a());
        assertEquals(OperandFormat.fp4(Fp4Scheme.nvfp4()), r.precision(LinearRole.FFN_DOWN, 2, 4).forward().a());
    }

    @Test
    void dgeOccVariants() {
        PrecisionRecipe r = Recipes.fp4DgeOcc("occ-fp32-back", 0.97, 3f, false);
        LinearPrecision p = r.precision(LinearRole.ATTN_V, 1, 2);
        assertEquals(GemmPrecision.FP32, p.dataGrad());
        assertEquals(GemmPrecision.FP32, p.weightGrad());
        assertEquals("dge(k=3)", p.estimator().name());
        assertEquals(0.97, p.clamping().alpha());
        assertTrue(p.clamping().compensate());
    }

    @Test
    void precisionsRejectOptionsThatDoNotFit() {
        GemmPrecision rotated = GemmPrecision.both(ROW).withHadamard(new RandomHadamard(16, 1));
        var e = assertThrows(IllegalArgumentException.class, () -> new LinearPrecision(rotated, GemmPrecision.FP32,
                GemmPrecision.FP32, WeightGradientEstimator.STE));
        assertTrue(e.getMessage().contains("Hadamard"), e.getMessage());
        var f = assertThrows(IllegalArgumentException.class, () -> LinearPrecision.uniform(E4)
                .withEstimator(WeightGradientEstimator.dge()));
        assertTrue(f.getMessage().contains("e4m3"), f.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new OutlierClamping(0.4, OutlierClamp.Granularity.PER_ROW, true));
        assertThrows(IllegalArgumentException.class, () -> WeightGradientEstimator.dge(0.5f));
    }

    /** The custom recipe of docs/recipes.md builds, selects as documented and trains a step. */
    @Test
    void customRecipeFromTheDocs() {
        OperandFormat fp4 = OperandFormat.fp4(Fp4Scheme.perRow());
        GemmPrecision fp8 = GemmPrecision.both(OperandFormat.E4M3);
        LinearPrecision ffn = new LinearPrecision(GemmPrecision.both(fp4), fp8, fp8, WeightGradientEstimator.dge())
                .withClamping(new OutlierClamping(0.99, OutlierClamp.Granularity.PER_ROW, true));
        PrecisionRecipe recipe = PrecisionRecipe.builder("ffn-fp4-dge")
                .defaults(LinearPrecision.uniform(OperandFormat.BF16))
                .feedForward(ffn)
                .firstBlocks(1, LinearPrecision.uniform(OperandFormat.BF16))
                .targetPrecision(PrecisionRecipe.byName("bf16"), 0.05)
                .build();
        assertSame(ffn, recipe.precision(LinearRole.FFN_UP, 1, 2));
        assertEquals(LinearPrecision.uniform(OperandFormat.BF16), recipe.precision(LinearRole.FFN_UP, 0, 2));
        assertEquals(LinearPrecision.uniform(OperandFormat.BF16), recipe.precision(LinearRole.ATTN_K, 1, 2));
        assertEquals(95, recipe.switchStep(100));
        LlamaModel model = new LlamaModel(LlamaConfig.tiny(), recipe, 42);
        int[] tokens = new int[16];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = i * 11 % 256;
        }
        float loss = model.forward(tokens, tokens, 1, 16);
        model.backward();
        assertTrue(Math.abs(loss - Math.log(256)) < 0.1, "initial loss " + loss);
        for (dev.fp4.nn.Parameter p : model.parameters()) {
            for (float g : p.grad()) {
                assertTrue(Float.isFinite(g), p.name());
            }
        }
    }

    @Test
    void lastMatchingRuleWins() {
        PrecisionRecipe r = PrecisionRecipe.builder("custom")
                .feedForward(MARKED)
                .roles(EnumSet.of(LinearRole.FFN_DOWN), LinearPrecision.FP32)
                .firstBlocks(1, LinearPrecision.FP32)
                .lmHead(MARKED)
                .build();
        assertEquals("custom", r.name());
        assertSame(MARKED, r.precision(LinearRole.FFN_GATE, 2, 4));
        assertSame(LinearPrecision.FP32, r.precision(LinearRole.FFN_DOWN, 2, 4));
        assertSame(LinearPrecision.FP32, r.precision(LinearRole.FFN_GATE, 0, 4));
        assertSame(LinearPrecision.FP32, r.precision(LinearRole.ATTN_Q, 2, 4));
        assertSame(MARKED, r.precision(LinearRole.LM_HEAD, -1, 4));
        PrecisionRecipe last = PrecisionRecipe.builder("last").lastBlocks(2, MARKED).build();
        assertSame(LinearPrecision.FP32, last.precision(LinearRole.ATTN_O, 1, 4));
        assertSame(MARKED, last.precision(LinearRole.ATTN_O, 2, 4));
        assertSame(LinearPrecision.FP32, last.precision(LinearRole.LM_HEAD, -1, 4));
    }

    @Test
    void targetPrecisionScheduleSwitchesForTheLastFraction() {
        PrecisionRecipe low = PrecisionRecipe.builder("low").defaults(MARKED)
                .targetPrecision(PrecisionRecipe.FP32, 0.1).build();
        assertEquals(90, low.switchStep(100));
        assertSame(low, low.at(89, 100));
        assertSame(PrecisionRecipe.FP32, low.at(90, 100));
        assertSame(PrecisionRecipe.FP32, low.at(100, 100));

        LlamaModel model = new LlamaModel(LlamaConfig.tiny(), low, 1);
        int[] tokens = new int[8];
        model.setStep(89, 100);
        model.forward(tokens, tokens, 1, 8);
        for (Linear l : model.linears()) {
            assertSame(MARKED, l.precision(), l.weight().name());
        }
        model.setStep(90, 100);
        assertSame(PrecisionRecipe.FP32, model.effectiveRecipe());
        model.forward(tokens, tokens, 1, 8);
        for (Linear l : model.linears()) {
            assertSame(LinearPrecision.FP32, l.precision(), l.weight().name());
        }
        assertSame(low, model.recipe());
    }

    @Test
    void badArguments() {
        assertThrows(IllegalArgumentException.class, () -> PrecisionRecipe.builder(" "));
        assertThrows(IllegalArgumentException.class,
                () -> PrecisionRecipe.builder("x").targetPrecision(PrecisionRecipe.FP32, 1.0));
        assertThrows(IllegalArgumentException.class, () -> PrecisionRecipe.builder("x").firstBlocks(-1, MARKED));
    }
}
