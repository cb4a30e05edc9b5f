package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.recipe.PrecisionRecipe;
import dev.fp4.nn.train.Evaluation;
import dev.fp4.nn.train.LlamaTrainable;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Sampling is deterministic for a seed and follows its rules; evaluation covers every position once. */
class GeneratorTest {
    static final LlamaModel MODEL = KvDecoderTest.model(11);
    static {
        MODEL.setRecipe(PrecisionRecipe.FP32);
    }

    @Test
    void theSameSeedGivesTheSameTokensAndAnotherSeedOthers() {
        int[] prompt = {72, 101, 108, 108, 111};
        Generator.Sampling s = new Generator.Sampling(0.9, 0, 0.95, 42);
        List<Integer> streamed = new ArrayList<>();
        int[] a = new Generator(MODEL).generate(prompt, 60, s, streamed::add);
        int[] b = new Generator(MODEL).generate(prompt, 60, s, t -> { });
        int[] c = new Generator(MODEL).generate(prompt, 60, new Generator.Sampling(0.9, 0, 0.95, 43), t -> { });
        assertEquals(60, a.length);
        assertArrayEquals(a, b);
        assertArrayEquals(a, streamed.stream().mapToInt(Integer::intValue).toArray(), "streamed as drawn");
        assertFalse(java.util.Arrays.equals(a, c));
    }

    @Test
    void greedyDecodingPicksTheArgmaxOfTheFullForward() {
        int[] prompt = {1, 2, 3};
        int[] out = new Generator(MODEL).generate(prompt, 20, new Generator.Sampling(0, 0, 1, 1), t -> { });
        int[] seq = new int[prompt.length + out.length];
        System.arraycopy(prompt, 0, seq, 0, prompt.length);
        System.arraycopy(out, 0, seq, prompt.length, out.length);
        float[] logits = MODEL.logits(seq, 1, seq.length);
        for (int i = 0; i < out.length; i++) {
            int row = prompt.length - 1 + i;
            int best = 0;
            for (int v = 1; v < 256; v++) {
                if (logits[row * 256 + v] > logits[row * 256 + best]) {
                    best = v;
                }
            }
            assertEquals(best, out[i], "token " + i);
        }
    }

    @Test
    void topKAndTopPOnlyDrawFromTheKeptTokens() {
        Generator g = new Generator(MODEL);
        float[] z = new float[256];
        java.util.Arrays.fill(z, -100f);
        z[10] = 5f;
        z[20] = 4f;
        z[30] = 3f;
        for (int i = 0; i < 1000; i++) {
            double u = i / 1000.0;
            int k2 = g.sample(z, new Generator.Sampling(1, 2, 1, 0), u);
            assertTrue(k2 == 10 || k2 == 20, "top-2 drew " + k2);
            // p(10) = e^5 / (e^5 + e^4 + e^3 + ...) ≈ 0.67: top-p 0.5 keeps token 10 alone
            assertEquals(10, g.sample(z, new Generator.Sampling(1, 0, 0.5, 0), u));
        }
        assertThrows(IllegalArgumentException.class, () -> new Generator.Sampling(-1, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Generator.Sampling(1, 0, 0, 0));
        assertEquals("the prompt has 150 tokens; the model's context holds 150 (leave room for at least one generated token)",
                assertThrows(IllegalArgumentException.class, () -> g.generate(new int[150], 1, new Generator.Sampling(1, 0, 1, 0),
                        t -> { })).getMessage());
    }

    @Test
    void evaluationIsTheMeanLossOverEveryPositionComputedTheSlowWay() {
        LlamaTrainable m = new LlamaTrainable(MODEL);
        byte[] text = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).sample(1000, 3);
        int[] t = new int[text.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = text[i] & 0xff;
        }
        int seq = 64;
        Evaluation e = Evaluation.of(m, t, seq, 4);
        assertEquals(999, e.predictions());
        // the slow way: each window's logits, log-softmax in double, position by position
        double sum = 0;
        for (int start = 0; start < t.length - 1; start += seq) {
            int len = Math.min(seq, t.length - 1 - start);
            float[] z = MODEL.logits(java.util.Arrays.copyOfRange(t, start, start + len), 1, len);
            for (int p = 0; p < len; p++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < 256; v++) {
                    max = Math.max(max, z[p * 256 + v]);
                }
                double lse = 0;
                for (int v = 0; v < 256; v++) {
                    lse += Math.exp(z[p * 256 + v] - max);
                }
                sum += max + Math.log(lse) - z[p * 256 + t[start + p + 1]];
            }
        }
        assertEquals(sum / 999, e.meanLoss(), 1e-5);
        assertEquals(e.meanLoss() / Math.log(2), e.bitsPerToken(), 1e-12);
    }
}
