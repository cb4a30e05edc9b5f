package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link FlashAttention} against the previous straightforward implementation
 * ({@link AttentionReference}: whole T×T matrices, FloatGemm, Softmax) and against the same
 * computation in double precision, on shapes that exercise the blocking: sequences shorter than,
 * equal to and not a multiple of the block size, grouped-query heads, head widths that are not a
 * multiple of the vector width.
 *
 * <p>Tolerance. Every output element is an FP32 computation through sums of at most T (≤ 200) or
 * D (≤ 40) terms, an exponential (≈ 2 ulp) and one division; its rounding error is a few times
 * √T·2⁻²⁴ ≈ 1e-6 of the tensor's scale (the largest |value| of the exact result). Both
 * implementations are held to 1e-5 of that scale against the double result (≈ 10× the expected
 * error), and to each other within twice that. A wrong mask, a block boundary off by one, a
 * missing rescaling or a wrong lse gives errors of the order of the scale itself.
 */
class FlashAttentionTest {
    private static final double TOL = 1e-5;

    static float[] random(SplittableRandom r, int n, double std) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * std);
        }
        return x;
    }

    private static double scale(double[] exact) {
        double s = 0;
        for (double e : exact) {
            s = Math.max(s, Math.abs(e));
        }
        return s;
    }

    private static double maxError(float[] actual, double[] exact) {
        double e = 0;
        for (int i = 0; i < exact.length; i++) {
            e = Math.max(e, Math.abs(actual[i] - exact[i]));
        }
        return e;
    }

    private static void compare(String what, float[] flash, float[] reference, double[] exact) {
        double s = scale(exact);
        if (s == 0) {
            // E.g. dq of a single token (a softmax over one key has zero gradient): what is left is
            // the cancellation dP − D of two O(1) dot products computed in different orders.
            double ef = maxError(flash, exact);
            assertTrue(ef <= TOL, () -> what + ": exact result is zero, flash gives up to " + ef);
            return;
        }
        double ef = maxError(flash, exact);
        double er = maxError(reference, exact);
        double between = 0;
        for (int i = 0; i < exact.length; i++) {
            between = Math.max(between, Math.abs(flash[i] - reference[i]));
        }
        double b = between;
        assertTrue(er <= TOL * s, () -> what + ": the reference itself is off by " + er + " (scale " + s + ")");
        assertTrue(ef <= TOL * s, () -> what + ": flash is off by " + ef + " of scale " + s + " (reference: " + er + ")");
        assertTrue(between <= 2 * TOL * s, () -> what + ": flash and reference differ by " + b + " (scale " + s + ")");
    }

    @ParameterizedTest
    @CsvSource({
        "1, 1, 2, 2, 8",     // a single token
        "2, 5, 4, 4, 8",     // shorter than a block
        "1, 64, 2, 2, 16",   // exactly one block
        "1, 65, 2, 1, 16",   // one block and one row, one kv head for two query heads
        "2, 130, 4, 2, 32",  // three blocks, grouped-query heads
        "1, 200, 2, 2, 20",  // head width not a multiple of the vector width
        "1, 129, 3, 3, 40"})
    void matchesPreviousImplementationAndDouble(int batch, int seq, int heads, int kvHeads, int hd) {
        SplittableRandom r = new SplittableRandom(seq * 31L + heads * 7L + hd);
        int n = batch * seq;
        // Scores of order 1-3 after scaling: a realistic, non-flat softmax.
        float[] q = random(r, n * heads * hd, 1.5);
        float[] k = random(r, n * kvHeads * hd, 1.5);
        float[] v = random(r, n * kvHeads * hd, 1);
        float[] dout = random(r, n * heads * hd, 1);
        FlashAttention fa = new FlashAttention(heads, kvHeads, hd);
        float[] o = new float[n * heads * hd];
        float[] lse = new float[n * heads];
        fa.forward(q, k, v, o, lse, batch, seq);
        float[] dq = new float[q.length];
        float[] dk = new float[k.length];
        float[] dv = new float[v.length];
        fa.backward(q, k, v, o, lse, dout, dq, dk, dv, batch, seq);

        float[][] ref = AttentionReference.forward(q, k, v, batch, seq, heads, kvHeads, hd);
        float[][] refGrad = AttentionReference.backward(q, k, v, ref[1], dout, batch, seq, heads, kvHeads, hd);
        double[][] exact = AttentionReference.exact(q, k, v, dout, batch, seq, heads, kvHeads, hd);
        compare("o", o, ref[0], exact[0]);
        compare("dq", dq, refGrad[0], exact[1]);
        compare("dk", dk, refGrad[1], exact[2]);
        compare("dv", dv, refGrad[2], exact[3]);
    }

    @Test
    void logSumExpIsTheRowsNormaliser() {
        SplittableRandom r = new SplittableRandom(3);
        int seq = 70, hd = 8;
        float[] q = random(r, seq * hd, 2);
        float[] k = random(r, seq * hd, 2);
        float[] v = random(r, seq * hd, 1);
        float[] o = new float[seq * hd];
        float[] lse = new float[seq];
        new FlashAttention(1, 1, hd).forward(q, k, v, o, lse, 1, seq);
        double c = 1 / Math.sqrt(hd);
        for (int i = 0; i < seq; i++) {
            double sum = 0;
            for (int j = 0; j <= i; j++) {
                double dot = 0;
                for (int e = 0; e < hd; e++) {
                    dot += (double) q[i * hd + e] * k[j * hd + e];
                }
                sum += Math.exp(dot * c);
            }
            // lse of order 1-10 in FP32 after an online sum over ≤ 70 terms: a few ulp; 1e-5 relative.
            double expected = Math.log(sum);
            int row = i;
            assertEquals(expected, lse[i], 1e-5 * Math.max(1, Math.abs(expected)), () -> "lse of row " + row);
        }
    }

    @Test
    void firstRowCopiesTheFirstValue() {
        // Row 0 sees only key 0: o[0] = v[0] exactly (P = e^0 / 1 = 1).
        SplittableRandom r = new SplittableRandom(4);
        int seq = 3, hd = 4;
        float[] q = random(r, seq * hd, 1);
        float[] k = random(r, seq * hd, 1);
        float[] v = random(r, seq * hd, 1);
        float[] o = new float[seq * hd];
        new FlashAttention(1, 1, hd).forward(q, k, v, o, new float[seq], 1, seq);
        for (int e = 0; e < hd; e++) {
            assertEquals(v[e], o[e], 0f);
        }
    }

    @Test
    void rejectsBadShapes() {
        assertThrows(IllegalArgumentException.class, () -> new FlashAttention(4, 3, 8));
        FlashAttention fa = new FlashAttention(2, 2, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> fa.forward(new float[16], new float[16], new float[16], new float[16], new float[3], 1, 2));
        assertTrue(e.getMessage().contains("lse needs 4"), e.getMessage());
    }
}
