package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.nn.checkpoint.TensorData;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class InferenceModelTest {
    static final LlamaConfig GQA = new LlamaConfig(48, 32, 2, 4, 2, 64, 24, false, 1e-5f, 10000f);

    static LlamaModel model(LlamaConfig c, long seed) {
        LlamaModel m = new LlamaModel(c, PrecisionRecipe.FP32, seed);
        SplittableRandom r = new SplittableRandom(seed + 1);
        for (Parameter p : m.parameters()) {
            float[] d = p.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = p.shape().length == 1 ? (float) (1 + 0.1 * r.nextGaussian()) : (float) (0.2 * r.nextGaussian());
            }
        }
        return m;
    }

    static int[] tokens(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(vocab);
        }
        return t;
    }

    /** The logits of every prefix through the cache, one token at a time after a prefill, equal one full call's rows bit for bit. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void kvCacheGivesTheLogitsOfFullRecomputation(boolean tied) {
        LlamaConfig c = GQA.withTiedEmbeddings(tied);
        InferenceModel im = InferenceModel.of(model(c, 3));
        int n = 20;
        int v = c.vocab();
        int[] t = tokens(n, v, 4);
        float[] full = new float[n * v];
        im.forward(t, 0, n, im.newCache(), full, true);
        KvCache cache = im.newCache();
        float[] step = new float[v];
        im.forward(t, 0, 7, cache, step, false);
        assertArrayEquals(Arrays.copyOfRange(full, 6 * v, 7 * v), step, "prefill's last row");
        for (int i = 7; i < n; i++) {
            im.forward(t, i, 1, cache, step, false);
            assertArrayEquals(Arrays.copyOfRange(full, i * v, (i + 1) * v), step, "position " + i);
            // full recomputation of the prefix alone, as a generator without a cache would do
            float[] prefix = new float[v];
            im.forward(t, 0, i + 1, im.newCache(), prefix, false);
            assertArrayEquals(prefix, step, "prefix " + i);
        }
        assertEquals(n, cache.length());
        assertThrows(IllegalArgumentException.class, () -> im.forward(t, 0, 5, cache, new float[v], false));
    }

    /** Generation's logits are the same bits with 1, 2 or 3 threads (rows and heads split, never a reduction). */
    @Test
    void logitsDoNotDependOnTheThreadCount() {
        int saved = dev.fp4.core.gemm.Gemm.threads();
        try {
            float[][] out = new float[3][];
            for (int threads = 1; threads <= 3; threads++) {
                dev.fp4.core.gemm.Gemm.setThreads(threads);
                InferenceModel im = InferenceModel.of(GQA, InferenceModelTest.tensors(model(GQA, 9)), Fp4Scheme.nvfp4());
                int[] t = tokens(GQA.maxSeq(), GQA.vocab(), 10);
                out[threads - 1] = new float[t.length * GQA.vocab()];
                im.forward(t, 0, t.length, im.newCache(), out[threads - 1], true);
            }
            assertArrayEquals(out[0], out[1]);
            assertArrayEquals(out[0], out[2]);
        } finally {
            dev.fp4.core.gemm.Gemm.setThreads(saved);
        }
    }

    static Map<String, TensorData> tensors(LlamaModel m) {
        Map<String, TensorData> t = new LinkedHashMap<>();
        for (Parameter p : m.parameters()) {
            t.put(p.name(), TensorData.ofFloats(p.data(), p.shape()));
        }
        return t;
    }

    /** The same function as the training model: per-position cross-entropy within FP32 rounding. */
    @Test
    void matchesTheTrainingModelsFp32Loss() {
        LlamaModel m = model(GQA, 5);
        InferenceModel im = InferenceModel.of(m);
        int n = 24;
        int v = GQA.vocab();
        int[] all = tokens(n + 1, v, 6);
        int[] in = Arrays.copyOf(all, n);
        int[] out = Arrays.copyOfRange(all, 1, n + 1);
        double[] ref = new double[n];
        m.evaluate(in, out, 1, n, ref);
        float[] logits = new float[n * v];
        im.forward(in, 0, n, im.newCache(), logits, true);
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                max = Math.max(max, logits[i * v + j]);
            }
            double z = 0;
            for (int j = 0; j < v; j++) {
                z += Math.exp(logits[i * v + j] - max);
            }
            double ce = max + Math.log(z) - logits[i * v + out[i]];
            // losses ~4 through 2 layers in FP32, blocked vs row attention: a few ulp; 2e-5 allowed
            assertEquals(ref[i], ce, 2e-5 * Math.max(1, ref[i]), "position " + i);
        }
    }

    /**
     * Packed FP4 weights multiplied through Fp4Gemm equal FP32 weights holding the dequantized values
     * bit for bit (power-of-two per-row scales factor out exactly), and hold about 4 bits per weight.
     */
    @Test
    void fp4WeightsEqualTheirDequantizedValues() {
        LlamaModel m = model(GQA, 7);
        Map<String, TensorData> exact = new LinkedHashMap<>();
        Map<String, TensorData> dequantized = new LinkedHashMap<>();
        for (Parameter p : m.parameters()) {
            exact.put(p.name(), TensorData.ofFloats(p.data(), p.shape()));
            boolean linear = p.name().startsWith("layers.") && p.shape().length == 2;
            float[] d = linear ? Fp4Tensor.quantize(p.data(), p.shape()[0], p.shape()[1], Fp4Scheme.perRow()).dequantize() : p.data();
            dequantized.put(p.name(), TensorData.ofFloats(d, p.shape()));
        }
        InferenceModel fp4 = InferenceModel.of(GQA, exact, Fp4Scheme.perRow());
        InferenceModel ref = InferenceModel.of(GQA, dequantized, null);
        int n = 16;
        int v = GQA.vocab();
        int[] t = tokens(n, v, 8);
        float[] a = new float[n * v];
        float[] b = new float[n * v];
        fp4.forward(t, 0, n, fp4.newCache(), a, true);
        ref.forward(t, 0, n, ref.newCache(), b, true);
        assertArrayEquals(b, a);
        long fp32Bytes = InferenceModel.of(GQA, exact, null).linearWeightBytes();
        assertEquals(4L * GQA.layers() * (2L * 32 * 32 + 2L * 16 * 32 + 3L * 64 * 32), fp32Bytes);
        // codes: 1/2 byte per weight; per-row scales: 4 bytes per row
        long rows = GQA.layers() * (32 + 16 + 16 + 32 + 64 + 64 + 32L);
        assertEquals(fp32Bytes / 8 + 4 * rows + 4L * 7 * GQA.layers(), fp4.linearWeightBytes());
        assertTrue(fp4.linearWeightBytes() < fp32Bytes / 5);
    }
}
