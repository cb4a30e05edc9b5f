package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The parallel loops split work only where no reduction is split, so a model's loss and every
 * gradient are the same bits with 1, 2 or 3 threads (two steps, so the second runs on reused
 * buffers; sequences of 150 tokens span three attention blocks; grouped-query heads).
 */
class ThreadCountDeterminismTest {
    private final int saved = dev.fp4.core.gemm.Gemm.threads();

    @AfterEach
    void restore() {
        dev.fp4.core.gemm.Gemm.setThreads(saved);
    }

    private static List<int[]> run(int threads, String recipe) {
        dev.fp4.core.gemm.Gemm.setThreads(threads);
        LlamaConfig c = new LlamaConfig(40, 32, 2, 4, 2, 48, 160);
        LlamaModel model = new LlamaModel(c, PrecisionRecipe.byName(recipe), 5);
        for (Linear l : model.linears()) {
            l.parallelMin = 1;                               // split even at these small shapes
        }
        SplittableRandom r = new SplittableRandom(6);
        int batch = 3, seq = 150;
        int[] tokens = new int[batch * seq];
        int[] targets = new int[batch * seq];
        List<int[]> bits = new ArrayList<>();
        for (int step = 0; step < 2; step++) {
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = r.nextInt(c.vocab());
                targets[i] = r.nextInt(c.vocab());
            }
            for (Parameter p : model.parameters()) {
                p.zeroGrad();
            }
            float loss = model.forward(tokens, targets, batch, seq);
            model.backward();
            bits.add(new int[] {Float.floatToRawIntBits(loss)});
            for (Parameter p : model.parameters()) {
                float[] g = p.grad();
                int[] gb = new int[g.length];
                for (int i = 0; i < g.length; i++) {
                    gb[i] = Float.floatToRawIntBits(g[i]);
                }
                bits.add(gb);
            }
        }
        return bits;
    }

    /** The transpose is split into bands of 32 source rows: odd shapes, 1–3 threads, every element. */
    @Test
    void transposeSplitOverThreadsMovesEveryElement() {
        SplittableRandom r = new SplittableRandom(9);
        for (int[] s : new int[][] {{1, 1}, {31, 7}, {33, 65}, {97, 40}, {256, 3}, {512, 64}, {64, 1024}, {9, 8}}) {
            float[] src = new float[s[0] * s[1]];
            for (int i = 0; i < src.length; i++) {
                src[i] = (float) r.nextDouble(-1, 1);
            }
            float[] expected = new float[src.length];
            for (int i = 0; i < s[0]; i++) {
                for (int j = 0; j < s[1]; j++) {
                    expected[j * s[0] + i] = src[i * s[1] + j];
                }
            }
            for (int threads = 1; threads <= 3; threads++) {
                dev.fp4.core.gemm.Gemm.setThreads(threads);
                float[] dst = new float[src.length];
                Linear.transpose(src, s[0], s[1], dst, 1);
                assertArrayEquals(expected, dst, s[0] + "x" + s[1] + " with " + threads + " threads");
            }
        }
    }

    /**
     * Every recipe; the FP4-only loops (DGE, the clamped-element dX patch, the compensation products) are split even at these
     * small shapes by lowering each layer's {@code parallelMin} to 1.
     */
    @ParameterizedTest
    @ValueSource(strings = {"fp32", "bf16", "fp8", "fp4-direct", "fp4-dge-occ", "fp4-dge-occ-official", "fp4-modulewise",
            "nvfp4", "mxfp4"})
    void lossAndGradientsDoNotDependOnTheThreadCount(String recipe) {
        List<int[]> one = run(1, recipe);
        for (int threads : new int[] {2, 3}) {
            List<int[]> many = run(threads, recipe);
            assertEquals(one.size(), many.size());
            for (int i = 0; i < one.size(); i++) {
                assertArrayEquals(one.get(i), many.get(i), recipe + ": tensor " + i + " with " + threads + " threads");
            }
        }
    }

    @Test
    void rejectsAThreadCountBelowOne() {
        assertThrows(IllegalArgumentException.class, () -> dev.fp4.core.gemm.Gemm.setThreads(0));
    }
}
