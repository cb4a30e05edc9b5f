package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * The public layer contract ({@link SequenceLayer}) as a user composing a model sees it: a
 * transformer block's public forward and backward against central differences of an independent
 * double-precision block (as {@link GradientCheckTest} does for each part), the same bits through
 * the interface as through the model's own path, and the errors of a misuse.
 */
class SequenceLayerTest {
    static final LlamaConfig C = new LlamaConfig(8, 16, 1, 4, 2, 24, 8);

    private static float[] random(SplittableRandom r, int n, double std) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * std);
        }
        return x;
    }

    private static TransformerBlock block(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        TransformerBlock b = new TransformerBlock(0, C, new Rope(C.headDim(), C.maxSeq(), C.ropeTheta()));
        for (Parameter p : b.parameters()) {
            boolean norm = p.name().endsWith("norm");
            float[] v = random(r, p.size(), norm ? 0.2 : 0.4);
            for (int i = 0; i < v.length; i++) {
                p.data()[i] = norm ? 1 + v[i] : v[i];
            }
        }
        return b;
    }

    /** y = h + FFN(norm2(h)), h = x + Attention(norm1(x)), in double from the block's parameters (p: the order of parameters()). */
    private static double[] reference(double[] x, List<double[]> p, int batch, int seq) {
        int n = batch * seq;
        double eps = C.normEps();
        double[] h = DoubleRef.add(x, DoubleRef.attention(DoubleRef.rmsnorm(x, p.get(0), n, C.dim(), eps), p.get(1), p.get(2),
                p.get(3), p.get(4), C, batch, seq));
        return DoubleRef.add(h, DoubleRef.ffn(DoubleRef.rmsnorm(h, p.get(5), n, C.dim(), eps), p.get(6), p.get(7), p.get(8), n,
                C.dim(), C.ffnDim()));
    }

    @Test
    void aBlockThroughTheContractMatchesFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(5);
        int batch = 2, seq = 5, n = batch * seq;
        SequenceLayer layer = block(1);
        float[] x = random(r, n * C.dim(), 1);
        float[] dy = random(r, n * C.dim(), 1);
        layer.forward(x, new float[n * C.dim()], batch, seq);
        float[] dx = new float[n * C.dim()];
        layer.backward(dy, dx);
        List<double[]> p = layer.parameters().stream().map(q -> DoubleRef.d(q.data(), q.size())).toList();
        double[] xd = DoubleRef.d(x, x.length);
        GradientCheckTest.check("block dx", dx, xd, v -> DoubleRef.project(reference(v, p, batch, seq), dy));
        for (int i : new int[] {0, 2, 5, 7}) {                 // attn_norm, wk (grouped), ffn_norm, a feed-forward weight
            Parameter q = layer.parameters().get(i);
            ToDoubleFunction<double[]> f = v -> {
                List<double[]> copy = new java.util.ArrayList<>(p);
                copy.set(i, v);
                return DoubleRef.project(reference(xd, copy, batch, seq), dy);
            };
            GradientCheckTest.check("block d" + q.name(), q.grad(), p.get(i), f);
        }
    }

    @Test
    void theContractGivesTheModelsOwnBits() {
        SplittableRandom r = new SplittableRandom(6);
        int batch = 2, seq = 7, n = batch * seq;
        TransformerBlock viaContract = block(2);
        TransformerBlock viaModel = block(2);
        float[] x = random(r, n * C.dim(), 1);
        float[] dy = random(r, n * C.dim(), 1);
        float[] y1 = new float[n * C.dim()];
        float[] dx1 = new float[n * C.dim()];
        viaContract.forward(x, y1, batch, seq);
        viaContract.backward(dy, dx1);
        Workspace ws = new Workspace();
        ws.ensure(C, batch, seq);
        float[] y2 = new float[n * C.dim()];
        viaModel.forward(x, y2, batch, seq, ws);
        float[] grad = dy.clone();
        viaModel.backward(grad, ws);
        assertArrayEquals(y2, y1);
        assertArrayEquals(grad, dx1);
        for (int i = 0; i < viaModel.parameters().size(); i++) {
            assertArrayEquals(viaModel.parameters().get(i).grad(), viaContract.parameters().get(i).grad(),
                    viaModel.parameters().get(i).name());
        }
    }

    @Test
    void widthsParametersAndMisuse() {
        TransformerBlock b = block(3);
        List<SequenceLayer> layers = List.of(b, b.attention(), b.feedForward(), b.attention().linears().get(1));
        for (SequenceLayer l : layers) {
            assertEquals(C.dim(), l.inputWidth());
        }
        assertEquals(C.kvDim(), b.attention().linears().get(1).outputWidth());
        assertEquals(9, b.parameters().size());
        assertEquals(4, b.attention().parameters().size());
        assertEquals(3, b.feedForward().parameters().size());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.backward(new float[16], new float[16]));
        assertEquals("layers.0: backward without a forward", e.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> b.forward(new float[10], new float[10 * C.dim()], 1, 10));
        assertEquals(true, bad.getMessage().contains("x"), bad.getMessage());
    }
}
