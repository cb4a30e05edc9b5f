package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LlamaModelTest {
    @Test
    void presets() {
        LlamaConfig t = LlamaConfig.preset("tiny");
        assertEquals(List.of(256, 64, 2, 4, 4, 192, 64), List.of(t.vocab(), t.dim(), t.layers(), t.heads(), t.kvHeads(), t.ffnDim(), t.maxSeq()));
        LlamaConfig s = LlamaConfig.preset("Small");
        assertEquals(List.of(256, 256, 4, 8, 8, 768, 256), List.of(s.vocab(), s.dim(), s.layers(), s.heads(), s.kvHeads(), s.ffnDim(), s.maxSeq()));
        LlamaConfig m = LlamaConfig.preset("medium");
        assertEquals(List.of(256, 512, 8, 8, 8, 1376, 256), List.of(m.vocab(), m.dim(), m.layers(), m.heads(), m.kvHeads(), m.ffnDim(), m.maxSeq()));
        var e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.preset("huge"));
        assertTrue(e.getMessage().contains("tiny") && e.getMessage().contains("small"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new LlamaConfig(16, 16, 1, 4, 3, 8, 8));
        assertThrows(IllegalArgumentException.class, () -> new LlamaConfig(16, 18, 1, 4, 4, 8, 8));
    }

    @Test
    void configMapRoundTripsAndOverridesApply() {
        LlamaConfig c = new LlamaConfig(300, 48, 3, 6, 2, 100, 40, true, 1.0e-6f, 500000f);
        assertEquals(c, LlamaConfig.fromMap(c.asMap()));
        assertEquals("2", c.asMap().get("model.kv_heads"));
        var missing = new java.util.HashMap<>(c.asMap());
        missing.remove("model.dim");
        var e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromMap(missing));
        assertTrue(e.getMessage().contains("model.dim"), e.getMessage());
        LlamaConfig t = LlamaConfig.tiny();
        assertEquals(t, t.with(null, null, null, null, null, null, null));
        LlamaConfig o = t.with(null, 96, 3, 6, null, 256, 128);
        assertEquals(List.of(256, 96, 3, 6, 6, 256, 128), List.of(o.vocab(), o.dim(), o.layers(), o.heads(), o.kvHeads(), o.ffnDim(), o.maxSeq()));
        assertEquals(2, t.with(null, null, null, null, 2, null, null).kvHeads());
        assertThrows(IllegalArgumentException.class, () -> t.with(null, null, null, null, 3, null, null));
    }

    @Test
    void parametersAreNamedUniquelyAndCountMatches() {
        for (boolean tied : new boolean[] {false, true}) {
            LlamaConfig c = LlamaConfig.tiny().withTiedEmbeddings(tied);
            LlamaModel m = new LlamaModel(c, PrecisionRecipe.FP32, 1);
            Set<String> names = new HashSet<>();
            long count = 0;
            for (Parameter p : m.parameters()) {
                assertTrue(names.add(p.name()), p.name());
                count += p.size();
            }
            assertEquals(c.parameterCount(), count);
            assertEquals("tok_embeddings", m.parameters().get(0).name());
            assertEquals("layers.0.attn.wq", m.parameters().get(2).name());
        }
    }

    @Test
    void seededAndRepeatable() {
        LlamaModel a = new LlamaModel(LlamaConfig.tiny(), PrecisionRecipe.FP32, 5);
        LlamaModel b = new LlamaModel(LlamaConfig.tiny(), PrecisionRecipe.FP32, 5);
        for (int i = 0; i < a.parameters().size(); i++) {
            assertArrayEquals(a.parameters().get(i).data(), b.parameters().get(i).data());
        }
        int[] tok = new int[2 * 16];
        for (int i = 0; i < tok.length; i++) {
            tok[i] = (i * 37) % 256;
        }
        float l1 = a.forward(tok, tok, 2, 16);
        a.backward();
        float[] g1 = a.parameters().get(3).grad().clone();
        a.parameters().forEach(Parameter::zeroGrad);
        float l2 = a.forward(tok, tok, 2, 16);
        a.backward();
        assertEquals(l1, l2);
        assertArrayEquals(g1, a.parameters().get(3).grad());
        assertEquals(l1, a.evaluate(tok, tok, 2, 16));
        assertThrows(IllegalStateException.class, a::backward);
    }

    @Test
    void badInputIsNamed() {
        LlamaModel m = new LlamaModel(LlamaConfig.tiny(), PrecisionRecipe.FP32, 1);
        int[] tok = new int[8];
        tok[5] = 256;
        var e = assertThrows(IllegalArgumentException.class, () -> m.forward(tok, new int[8], 1, 8));
        assertTrue(e.getMessage().contains("tokens[5] = 256"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> m.forward(new int[8], new int[8], 1, 65));
        assertTrue(e.getMessage().contains("maxSeq"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> m.forward(new int[8], new int[4], 1, 8));
        assertTrue(e.getMessage().contains("targets"), e.getMessage());
        assertThrows(IllegalStateException.class, m::backward);
    }
}
