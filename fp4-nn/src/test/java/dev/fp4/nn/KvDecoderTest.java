package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Decoding with a key/value cache gives the full forward's logits: bit for bit with FP32 weights
 * (over more than one attention block and with grouped-query heads), and those of the FP4-rounded
 * weights with packed FP4 weights.
 */
class KvDecoderTest {
    /** dim 64, 2 layers, 4 heads over 2 kv heads, ffn 192, up to 150 positions (three attention blocks). */
    static final LlamaConfig CFG = new LlamaConfig(256, 64, 2, 4, 2, 192, 150);

    static LlamaModel model(long seed) {
        LlamaModel m = new LlamaModel(CFG, PrecisionRecipe.FP32, seed);
        SplittableRandom r = new SplittableRandom(seed);
        for (Parameter p : m.parameters()) {
            if (p.shape().length == 1) {
                for (int i = 0; i < p.size(); i++) {
                    p.data()[i] = (float) (1 + 0.3 * r.nextGaussian());   // norms away from 1
                }
            }
        }
        return m;
    }

    static int[] tokens(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(256);
        }
        return t;
    }

    @Test
    void fp32DecodingEqualsTheFullForwardBitForBit() {
        LlamaModel m = model(3);
        int n = 150;
        int[] t = tokens(n, 5);
        float[] full = m.logits(t, 1, n);
        KvDecoder d = new KvDecoder(m);
        float[] logits = new float[256];
        for (int p = 0; p < n; p++) {
            d.next(t[p], logits);
            assertArrayEquals(Arrays.copyOfRange(full, p * 256, (p + 1) * 256), logits, "position " + p);
        }
        assertEquals(n, d.length());
        assertEquals("the cache holds 150 tokens (the model's maxSeq): reset() or shorten the text",
                assertThrows(IllegalArgumentException.class, () -> d.next(1, logits)).getMessage());
        d.reset();
        d.next(t[0], logits);
        assertArrayEquals(Arrays.copyOfRange(full, 0, 256), logits, "after reset");
    }

    @Test
    void fp4WeightsArePackedAndGiveTheLogitsOfTheRoundedWeights() {
        LlamaModel m = model(7);
        Fp4Scheme scheme = Fp4Scheme.nvfp4();
        KvDecoder d = new KvDecoder(m, KvDecoder.Weights.FP4, scheme);
        // the same model with each linear weight replaced by its FP4 rounding, run in FP32
        LlamaModel rounded = model(7);
        for (int i = 0; i < m.linears().size(); i++) {
            Linear l = rounded.linears().get(i);
            float[] w = l.weight().data();
            System.arraycopy(Fp4Tensor.quantize(w, l.out(), l.in(), scheme).dequantize(), 0, w, 0, w.length);
        }
        int n = 70;
        int[] t = tokens(n, 9);
        float[] full = rounded.logits(t, 1, n);
        float[] logits = new float[256];
        for (int p = 0; p < n; p++) {
            d.next(t[p], logits);
            for (int v = 0; v < 256; v++) {
                float want = full[p * 256 + v];
                assertEquals(want, logits[v], 2e-5f * (1 + Math.abs(want)), "position " + p + ", token " + v);
            }
        }
        long fp32 = new KvDecoder(m).weightBytes();
        long fp4 = d.weightBytes();
        assertTrue(fp4 * 4 < fp32, "packed weights take " + fp4 + " bytes, FP32 " + fp32);
    }
}
