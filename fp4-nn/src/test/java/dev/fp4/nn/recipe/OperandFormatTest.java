package dev.fp4.nn.recipe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.format.BF16;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.core.quant.Rounding;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class OperandFormatTest {

    static float[] quantize(OperandFormat f, float[] x, int rows, int cols) {
        float[] out = new float[x.length];
        f.newQuantizer().quantize(x, 0, rows, cols, out, 0, 0);
        return out;
    }

    /**
     * Hand-worked: amax 500. E4M3: sf = 2^−1 (250 ≤ 448 < 500); 0.55 → 0.5625 (step 1/16 in [0.5, 1)),
     * 250 → 256 (step 16 in [128, 256), 250 nearer 256). E5M2: sf = 2^6 (32000 ≤ 57344 < 64000);
     * 70.4 → 64 (step 16), 32000 → 32768 (step 4096), −192 exact.
     */
    @Test
    void fp8ScalesPerTensorByAPowerOfTwo() {
        float[] x = {1f, -3f, 500f, 1.1f};
        assertArrayEquals(new float[] {1f, -3f, 512f, 1.125f}, quantize(OperandFormat.E4M3, x, 2, 2));
        assertArrayEquals(new float[] {1f, -3f, 512f, 1f}, quantize(OperandFormat.E5M2, x, 1, 4));
        assertArrayEquals(new float[] {0f, -0f, 0f}, quantize(OperandFormat.E4M3, new float[] {0f, -0f, 0f}, 1, 3));
        // The top of the range: amax·sf lands on 448 exactly and stays there.
        assertArrayEquals(new float[] {448f, -448f}, quantize(OperandFormat.E4M3, new float[] {448f, -448f}, 1, 2));
        // Small amax: scaled up exactly to the top of the range (1.5·2^−100·2^108 = 384).
        float small = 0x1.8p-100f;
        assertArrayEquals(new float[] {small}, quantize(OperandFormat.E4M3, new float[] {small}, 1, 1));
        assertEquals(108, Fp8Operand.E4M3.scaleExponent(small));
        // Subnormal amax: the scale is capped at 2^127, 3·2^−149·2^127 = 3·2^−22 is below E4M3's
        // smallest subnormal 2^−9 and flushes to zero.
        float tiny = Float.MIN_VALUE * 3;
        assertEquals(127, Fp8Operand.E4M3.scaleExponent(tiny));
        assertArrayEquals(new float[] {0f}, quantize(OperandFormat.E4M3, new float[] {tiny}, 1, 1));
        assertEquals(-1, Fp8Operand.E4M3.scaleExponent(500f));
        assertEquals(0, Fp8Operand.E4M3.scaleExponent(448f));
        assertEquals(-1, Fp8Operand.E4M3.scaleExponent(Math.nextUp(448f)));
        assertEquals(6, Fp8Operand.E5M2.scaleExponent(500f));
    }

    /**
     * Large operands are split over the pool (amax per chunk, then rounding per chunk): the result is
     * the same bits with 1, 2 and 3 threads, into another array, in place, and into an overlapping
     * range of the same array (which stays on one thread); a NaN or ∞ in any chunk is still named.
     */
    @Test
    void fp8GivesTheSameBitsWithAnyThreadCount() {
        int saved = dev.fp4.core.gemm.Gemm.threads();
        try {
            SplittableRandom r = new SplittableRandom(71);
            int rows = 300;
            int cols = 777; // 233,100 elements: above the split threshold, not a multiple of anything
            float[] x = new float[rows * cols];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (r.nextGaussian() * Math.exp(4 * r.nextGaussian()));
            }
            x[x.length - 5] = 1.0e9f; // the amax sits in the last chunk
            float[][] byThreads = new float[3][];
            for (int t = 1; t <= 3; t++) {
                dev.fp4.core.gemm.Gemm.setThreads(t);
                for (OperandFormat f : new OperandFormat[] {OperandFormat.E4M3, OperandFormat.E5M2}) {
                    Quantizer q = f.newQuantizer();
                    float[] out = new float[x.length];
                    q.quantize(x, 0, rows, cols, out, 0, 0);
                    float[] inPlace = x.clone();
                    q.quantize(inPlace, 0, rows, cols, inPlace, 0, 0);
                    assertArrayEquals(out, inPlace, f + " in place, threads " + t);
                    float[] shifted = new float[x.length + 7];
                    System.arraycopy(x, 0, shifted, 7, x.length);
                    q.quantize(shifted, 7, rows, cols, shifted, 0, 0); // overlapping, other offset
                    assertArrayEquals(out, java.util.Arrays.copyOf(shifted, x.length), f + " overlap, threads " + t);
                    if (f == OperandFormat.E4M3) {
                        byThreads[t - 1] = out;
                    }
                    float[] bad = x.clone();
                    bad[x.length - 2] = Float.POSITIVE_INFINITY;
                    var e = assertThrows(IllegalArgumentException.class,
                            () -> q.quantize(bad, 0, rows, cols, new float[x.length], 0, 0));
                    assertTrue(e.getMessage().contains("(row " + (rows - 1) + ", col " + (cols - 2) + ")"), e.getMessage());
                }
            }
            assertArrayEquals(byThreads[0], byThreads[1], "1 vs 2 threads");
            assertArrayEquals(byThreads[0], byThreads[2], "1 vs 3 threads");
            // And it is the per-element rounding: spot-check against the scalar definition.
            float amax = 0f;
            for (float v : x) {
                amax = Math.max(amax, Math.abs(v));
            }
            int e = Fp8Operand.E4M3.scaleExponent(amax);
            for (int i = 0; i < x.length; i += 997) {
                float want = Math.scalb(Fp8Operand.E4M3.round(Math.scalb(x[i], e)), -e);
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(byThreads[0][i]), "element " + i);
            }
        } finally {
            dev.fp4.core.gemm.Gemm.setThreads(saved);
        }
    }

    @Test
    void fp8RejectsNonFiniteInputNamingTheElementAndWritesNothing() {
        float[] x = {1f, 2f, 3f, Float.NaN, 5f, 6f};
        float[] dst = new float[6];
        var e = assertThrows(IllegalArgumentException.class,
                () -> OperandFormat.E5M2.newQuantizer().quantize(x, 0, 2, 3, dst, 0, 0));
        assertTrue(e.getMessage().contains("(row 1, col 0)") && e.getMessage().contains("e5m2"), e.getMessage());
        assertArrayEquals(new float[6], dst);
    }

    @Test
    void bf16RoundsEachElementInPlaceOrIntoAnotherArray() {
        SplittableRandom r = new SplittableRandom(1);
        float[] x = new float[37];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        float[] y = quantize(OperandFormat.BF16, x, 1, 37);
        float[] inPlace = x.clone();
        OperandFormat.BF16.newQuantizer().quantize(inPlace, 0, 37, 1, inPlace, 0, 0);
        for (int i = 0; i < x.length; i++) {
            assertEquals(BF16.round(x[i]), y[i]);
        }
        assertArrayEquals(y, inPlace);
    }

    @Test
    void fp4IsTheDequantizedTensorAndReportsTheScaledValues() {
        SplittableRandom r = new SplittableRandom(2);
        float[] w = new float[6 * 40];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        for (Fp4Scheme s : new Fp4Scheme[] {Fp4Scheme.perRow(), Fp4Scheme.perColumn(), Fp4Scheme.mxfp4(),
                Fp4Scheme.nvfp4_2d()}) {
            Quantizer q = OperandFormat.fp4(s).newQuantizer();
            float[] out = new float[w.length + 3];
            q.quantize(w, 0, 6, 40, out, 3, 0);
            Fp4Tensor t = Fp4Tensor.quantize(w, 6, 40, s);
            float[] want = t.dequantize();
            for (int i = 0; i < w.length; i++) {
                assertEquals(want[i], out[i + 3], s + " element " + i);
            }
            float[] scaled = new float[w.length];
            q.scaledValues(w, 0, scaled, 0);
            for (int i = 0; i < w.length; i++) {
                float x = w[i] / (t.scale(i / 40, i % 40) * t.tensorScale());
                assertEquals(x, scaled[i], s + " scaled " + i);
                assertTrue(Math.abs(x) <= 6.0001f || !s.equals(Fp4Scheme.perRow()), "within the E2M1 range");
            }
        }
    }

    @Test
    void fp4StochasticRoundingFollowsTheStream() {
        Fp4Scheme sr = Fp4Scheme.nvfp4().withRounding(Rounding.stochastic(7));
        float[] x = new float[64];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        Quantizer q = OperandFormat.fp4(sr).newQuantizer();
        float[] a = new float[64];
        float[] b = new float[64];
        q.quantize(x, 0, 4, 16, a, 0, 5);
        q.quantize(x, 0, 4, 16, b, 0, 6);
        Fp4Tensor t = Fp4Tensor.allocate(4, 16, sr);
        t.quantizeFrom(x, 0, 5);
        assertArrayEquals(t.dequantize(), a);
        assertTrue(!java.util.Arrays.equals(a, b), "another stream draws other variates");
    }

    @Test
    void formatsAreValuesWithReadableNames() {
        assertEquals(OperandFormat.fp4(Fp4Scheme.perRow()), OperandFormat.fp4(Fp4Scheme.perRow()));
        assertEquals("fp4(perRow(POWER_OF_TWO, RNE))", OperandFormat.fp4(Fp4Scheme.perRow()).name());
        assertEquals("e4m3", OperandFormat.E4M3.name());
        assertEquals("e5m2", OperandFormat.E5M2.name());
        assertEquals("bf16", OperandFormat.BF16.name());
        assertTrue(OperandFormat.fp4(Fp4Scheme.mxfp4()).hasE2M1Elements());
        assertTrue(!OperandFormat.E4M3.hasE2M1Elements() && !OperandFormat.BF16.isIdentity());
        assertThrows(UnsupportedOperationException.class,
                () -> OperandFormat.BF16.newQuantizer().scaledValues(new float[1], 0, new float[1], 0));
    }
}
