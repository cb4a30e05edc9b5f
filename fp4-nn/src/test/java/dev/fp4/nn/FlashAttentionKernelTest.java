package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The vector kernels of {@link FlashAttention} against their scalar twins, bit for bit, and the
 * whole blocked forward and backward run with either set of kernels: equal bits.
 */
@Tag("kernel")
class FlashAttentionKernelTest {

    private static void assertBits(float[] expected, float[] actual, int from, int to, String what) {
        for (int i = from; i < to; i++) {
            int k = i;
            assertTrue(Float.floatToRawIntBits(expected[i]) == Float.floatToRawIntBits(actual[i])
                    || (Float.isNaN(expected[i]) && Float.isNaN(actual[i])),
                    () -> what + " [" + k + "]: scalar " + expected[k] + " vector " + actual[k]);
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 1, 1, 1", "5, 7, 3, 1", "64, 64, 32, 1", "64, 64, 32, 64", "13, 50, 20, 9", "4, 33, 16, 100",
        "17, 17, 5, 1"})
    void scores(int rows, int cols, int d, int limit) {
        SplittableRandom r = new SplittableRandom(rows * 1000L + cols * 10L + d);
        float[] a = KernelTwinTest.data(rows * (d + 3), "wide", r.nextLong());
        float[] bt = KernelTwinTest.data(d * (cols + 2), "special", r.nextLong());
        int lds = cols + 1;
        float[] s1 = new float[rows * lds];
        float[] s2 = new float[rows * lds];
        FlashAttention.scoresScalar(a, 2, d + 1, rows, bt, 1, cols + 2, cols, d, limit, s1, lds);
        FlashAttentionPanama.scoresVector(a, 2, d + 1, rows, bt, 1, cols + 2, cols, d, limit, s2, lds);
        for (int row = 0; row < rows; row++) {
            assertBits(s1, s2, row * lds, row * lds + Math.min(cols, row + limit), "scores row " + row);
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 1, 1", "7, 1, 32", "64, 1, 32", "64, 65, 16", "30, 3, 20", "5, 9, 48", "0, 1, 33"})
    void accumulate(int n, int pStride, int d) {
        SplittableRandom r = new SplittableRandom(n * 100L + d);
        for (String kind : new String[] {"random", "wide", "special"}) {
            float[] p = KernelTwinTest.data(Math.max(1, n * pStride + 1), kind, r.nextLong());
            float[] v = KernelTwinTest.data((n + 1) * (d + 2), kind, r.nextLong());
            float[] o1 = KernelTwinTest.data(d + 3, kind, r.nextLong());
            float[] o2 = o1.clone();
            FlashAttention.accumulateScalar(p, 1, pStride, n, v, 2, d + 2, d, o1, 2);
            FlashAttentionPanama.accumulateVector(p, 1, pStride, n, v, 2, d + 2, d, o2, 2);
            assertBits(o1, o2, 0, o1.length, "accumulate " + kind);
        }
    }

    @ParameterizedTest
    @CsvSource({"0, 0, 0, 5, 0, 32, 64, 1", "0, 0, 0, 1, 1, 32, 64, 1", "0, 3, 1, 40, 0, 20, 1, 64",
        "0, 0, 1, 3, 0, 16, 1, 8", "0, 2, 1, 2, 0, 33, 1, 8", "0, 0, 0, 0, 1, 7, 9, 1", "0, 10, 1, 30, 1, 48, 50, 1"})
    void accumulate4(int unused, int lo, int dLo, int hi, int dHi, int d, int pK, int pI) {
        SplittableRandom r = new SplittableRandom(lo * 1000L + hi * 10L + d);
        int maxI = hi + 3 * dHi + 1;
        for (String kind : new String[] {"random", "wide", "special"}) {
            float[] p = KernelTwinTest.data(3 * pK + maxI * pI + 2, kind, r.nextLong());
            float[] v = KernelTwinTest.data(maxI * (d + 1) + 2, kind, r.nextLong());
            float[] o1 = KernelTwinTest.data(4 * (d + 2) + 1, kind, r.nextLong());
            float[] o2 = o1.clone();
            float[] o3 = o1.clone();
            FlashAttention.accumulate4(p, 1, pK, pI, lo, dLo, hi, dHi, v, 1, d + 1, d, o1, 1, d + 2, false);
            FlashAttentionPanama.accumulate4Vector(p, 1, pK, pI, lo, dLo, hi, dHi, v, 1, d + 1, d, o2, 1, d + 2);
            for (int k = 0; k < 4; k++) {
                int from = lo + k * dLo;
                int to = hi + k * dHi;
                for (int x = 0; x < d; x++) {
                    float acc = o3[1 + k * (d + 2) + x];
                    for (int i = from; i < to; i++) {
                        acc = Math.fma(p[1 + k * pK + i * pI], v[1 + i * (d + 1) + x], acc);
                    }
                    o3[1 + k * (d + 2) + x] = acc;
                }
            }
            assertBits(o3, o1, 0, o1.length, "accumulate4 scalar vs definition " + kind);
            assertBits(o1, o2, 0, o1.length, "accumulate4 " + kind);
        }
    }

    @ParameterizedTest
    @CsvSource({"1", "15", "16", "17", "64", "100"})
    void exponentials(int n) {
        for (String kind : new String[] {"random", "wide", "special"}) {
            float[] s = KernelTwinTest.data(n, kind, n);
            float[] dp = KernelTwinTest.data(n, kind, n + 1);
            for (float[] sh : new float[][] {{0.35f, 0f}, {0.125f, 3.5f}, {1f, -2f}, {0.2f, 90f}}) {
                float[] e1 = s.clone();
                float[] e2 = s.clone();
                FlashAttention.expShiftedScalar(e1, 1, n, sh[0], sh[1]);
                FlashAttentionPanama.expShiftedVector(e2, 1, n, sh[0], sh[1]);
                assertBits(e1, e2, 0, e1.length, "expShifted " + kind);
                float[] p1 = s.clone();
                float[] p2 = s.clone();
                float[] d1 = dp.clone();
                float[] d2 = dp.clone();
                FlashAttention.probsAndGradScalar(p1, d1, 2, n - 1, sh[0], sh[1], 0.75f);
                FlashAttentionPanama.probsAndGradVector(p2, d2, 2, n - 1, sh[0], sh[1], 0.75f);
                assertBits(p1, p2, 0, p1.length, "probs " + kind);
                assertBits(d1, d2, 0, d1.length, "dS " + kind);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"2, 5, 4, 2, 8", "1, 130, 2, 2, 32", "1, 97, 3, 1, 20", "2, 64, 2, 2, 16"})
    void blockedForwardAndBackward(int batch, int seq, int heads, int kvHeads, int hd) {
        SplittableRandom r = new SplittableRandom(seq * 7L + hd);
        int n = batch * seq;
        float[] q = FlashAttentionTest.random(r, n * heads * hd, 2);
        float[] k = FlashAttentionTest.random(r, n * kvHeads * hd, 2);
        float[] v = FlashAttentionTest.random(r, n * kvHeads * hd, 1);
        float[] dout = FlashAttentionTest.random(r, n * heads * hd, 1);
        float[][] scalar = run(new FlashAttention(heads, kvHeads, hd, false), heads, q, k, v, dout, batch, seq);
        float[][] vector = run(new FlashAttention(heads, kvHeads, hd, true), heads, q, k, v, dout, batch, seq);
        String[] names = {"o", "lse", "dq", "dk", "dv"};
        for (int i = 0; i < names.length; i++) {
            assertBits(scalar[i], vector[i], 0, scalar[i].length, names[i]);
        }
    }

    static float[][] run(FlashAttention fa, int heads, float[] q, float[] k, float[] v, float[] dout, int batch, int seq) {
        float[] o = new float[q.length];
        float[] lse = new float[batch * seq * heads];
        float[] dq = new float[q.length];
        float[] dk = new float[k.length];
        float[] dv = new float[v.length];
        fa.forward(q, k, v, o, lse, batch, seq);
        fa.backward(q, k, v, o, lse, dout, dq, dk, dv, batch, seq);
        return new float[][] {o, lse, dq, dk, dv};
    }
}
