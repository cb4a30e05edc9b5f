package dev.fp4.nn.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Linear;
import java.util.EnumSet;
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
