package dev.fp4.nn.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.InferenceModel;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.data.ByteTokenizer;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GeneratorTest {
    static InferenceModel model(int maxSeq) {
        LlamaConfig c = new LlamaConfig(256, 32, 2, 4, 2, 64, maxSeq);
        LlamaModel m = new LlamaModel(c, PrecisionRecipe.FP32, 1);
        SplittableRandom r = new SplittableRandom(2);
        for (Parameter p : m.parameters()) {
            float[] d = p.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = p.shape().length == 1 ? 1f : (float) (0.3 * r.nextGaussian());
            }
        }
        return InferenceModel.of(m);
    }

    @Test
    void sameSeedSameTextAndTheTextIsStreamed() {
        Generator g = new Generator(model(64), ByteTokenizer.INSTANCE);
        ByteArrayOutputStream streamed = new ByteArrayOutputStream();
        Generator.Result a = g.generate("Once upon", 50, Sampling.defaults(), 42, (t, b) -> streamed.writeBytes(b));
        Generator.Result b = g.generate("Once upon", 50, Sampling.defaults(), 42, null);
        Generator.Result c = g.generate("Once upon", 50, Sampling.defaults(), 43, null);
        assertEquals(50, a.generated().length);
        assertArrayEquals(a.generated(), b.generated());
        assertFalse(java.util.Arrays.equals(a.generated(), c.generated()));
        assertEquals(ByteTokenizer.INSTANCE.decode(a.generated()), streamed.toString(StandardCharsets.UTF_8));
        assertArrayEquals(ByteTokenizer.INSTANCE.encode("Once upon"), a.prompt());
        assertEquals(0, g.generate("x", 0, Sampling.defaults(), 1, null).generated().length);
        assertEquals(5, g.generate("", 5, Sampling.defaults(), 1, null).generated().length);
    }

    /**
     * Past the context: greedy tokens through the cache and its re-runs equal a loop that recomputes
     * the whole retained window for every token (the window policy of the class comment).
     */
    @Test
    void beyondTheContextEqualsRecomputationOfTheRetainedWindow() {
        int cap = 16;
        InferenceModel m = model(cap);
        Generator g = new Generator(m, ByteTokenizer.INSTANCE);
        int[] prompt = ByteTokenizer.INSTANCE.encode("a prompt longer than sixteen bytes");
        int steps = 45;
        Generator.Result r = g.generate(prompt, steps, Sampling.greedy(), 0, null);
        int[] h = java.util.Arrays.copyOf(prompt, prompt.length + steps);
        int len = prompt.length;
        int start = len - cap;
        float[] logits = new float[256];
        for (int i = 0; i < steps; i++) {
            if (len - start > cap) {
                start = len - 1 - cap / 2;
            }
            m.forward(h, start, len - start, m.newCache(), logits, false);
            h[len++] = Sampling.greedy().sample(logits, 256, null);
        }
        assertArrayEquals(java.util.Arrays.copyOfRange(h, prompt.length, len), r.generated());
    }

    @Test
    void samplingRules() {
        float[] z = {1f, 3f, 3f, -2f, 0.5f};
        SplittableRandom r = new SplittableRandom(1);
        assertEquals(1, Sampling.greedy().sample(z, 5, r), "lowest id among equal maxima");
        assertEquals(1, new Sampling(1, 1, 1).sample(z, 5, r), "top-k 1 is the arg max");
        assertEquals(1, new Sampling(5, 0, 1e-9).sample(z, 5, r), "a tiny top-p keeps the first id");
        // two ids with logits 0 and ln 3 at temperature 1: p = 1/4, 3/4
        float[] two = {0f, (float) Math.log(3)};
        int ones = 0;
        int n = 40_000;
        for (int i = 0; i < n; i++) {
            ones += new Sampling(1, 0, 1).sample(two, 2, r);
        }
        assertEquals(0.75, ones / (double) n, 0.01);
        // temperature 2 flattens: p ∝ exp(z/2) = 1, √3 → p1 = √3 / (1 + √3)
        ones = 0;
        for (int i = 0; i < n; i++) {
            ones += new Sampling(2, 0, 1).sample(two, 2, r);
        }
        assertEquals(Math.sqrt(3) / (1 + Math.sqrt(3)), ones / (double) n, 0.01);
        // top-p 0.7 keeps only the 3/4 id
        for (int i = 0; i < 100; i++) {
            assertEquals(1, new Sampling(1, 0, 0.7).sample(two, 2, r));
        }
        assertThrows(IllegalArgumentException.class, () -> new Sampling(-1, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new Sampling(1, -1, 1));
        assertThrows(IllegalArgumentException.class, () -> new Sampling(1, 0, 0));
        assertTrue(Sampling.defaults().topP() == 0.95 && Sampling.defaults().temperature() == 0.8);
    }
}
