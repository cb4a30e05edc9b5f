package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.format.E4M3;
import dev.fp4.core.format.E5M2;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

class Fp8QuantizerTest {

    @Test
    void powerOfTwoScaleMapsAmaxIntoTheRange() {
        // E4M3 max 448 = 1.75*2^8: amax 1 -> sf 256 (256 <= 448 < 512); amax 448 -> 1; 449 -> 1/2;
        // amax 1.75 -> 256 (1.75*256 = 448); amax 1.76 -> 128.
        assertEquals(8, Fp8Quantizer.scaleExponent(1f, Fp8Format.E4M3));
        assertEquals(0, Fp8Quantizer.scaleExponent(448f, Fp8Format.E4M3));
        assertEquals(-1, Fp8Quantizer.scaleExponent(449f, Fp8Format.E4M3));
        assertEquals(8, Fp8Quantizer.scaleExponent(1.75f, Fp8Format.E4M3));
        assertEquals(7, Fp8Quantizer.scaleExponent(1.76f, Fp8Format.E4M3));
        // E5M2 max 57344 = 1.75*2^15.
        assertEquals(15, Fp8Quantizer.scaleExponent(1f, Fp8Format.E5M2));
        assertEquals(0, Fp8Quantizer.scaleExponent(0f, Fp8Format.E5M2));
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < 100_000; i++) {
            float a = Float.intBitsToFloat(rnd.nextInt(1, 0x7F800000));
            for (Fp8Format f : Fp8Format.values()) {
                int e = Fp8Quantizer.scaleExponent(a, f);
                double scaled = a * Math.pow(2, e);
                assertTrue(scaled <= f.max() && (e == 127 || scaled * 2 > f.max()), f + " amax " + a);
            }
        }
    }

    @Test
    void fakeQuantizeRoundsOnceToTheScaledGrid() {
        SplittableRandom rnd = new SplittableRandom(2);
        for (Fp8Format f : Fp8Format.values()) {
            float[] x = new float[1000];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (rnd.nextGaussian() * 3);
            }
            x[17] = -0f;
            float[] y = x.clone();
            float s = Fp8Quantizer.fakeQuantize(y, 0, y.length, f);
            float amax = QuantKernels.absMaxScalar(x, 0, x.length);
            assertTrue(amax / s <= f.max() && amax / s * 2 > f.max());
            for (int i = 0; i < x.length; i++) {
                float want = f.round(x[i] / s) * s;
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(y[i]), f + " " + x[i]);
            }
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(y[17]));
            // Idempotent: the grid values stay, the scale stays.
            float[] z = y.clone();
            assertEquals(s, Fp8Quantizer.fakeQuantize(z, 0, z.length, f));
            assertArrayEquals(y, z);
        }
        float[] zeros = new float[5];
        assertEquals(1f, Fp8Quantizer.fakeQuantize(zeros, 0, 5, Fp8Format.E4M3));
    }

    @Test
    void perRowScales() {
        float[] x = {1f, -0.5f, 0.3f, 1000f, 2f, -3f};
        float[] s = Fp8Quantizer.fakeQuantizeRows(x, 0, 2, 3, Fp8Format.E4M3);
        // Row 0 amax 1 -> sf 256, s = 1/256; row 1 amax 1000 = 1.95*2^9 -> sf = 2^(7-9) = 1/4, s = 4.
        assertArrayEquals(new float[] {1f / 256, 4f}, s);
        // 0.3*256 = 76.8 -> E4M3 (step 8 in [64,128)) -> 80 -> 80/256 = 0.3125; 2*0.25 = 0.5 -> 0.5 -> 2.
        assertEquals(0.3125f, x[2]);
        // 1000/4 = 250 -> E4M3 step 16 in [128, 256): 240 or 256, nearer 256 -> 256*4 = 1024.
        assertEquals(1024f, x[3]);
        assertEquals(2f, x[4]);
    }

    @Test
    void nonFiniteIsRejectedAndInputKept() {
        float[] x = {1f, 2f, Float.NaN, 4f};
        float[] copy = x.clone();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Fp8Quantizer.fakeQuantize(x, 0, 4, Fp8Format.E4M3));
        assertTrue(e.getMessage().contains("index 2"), e.getMessage());
        assertArrayEquals(copy, x);
        float[] m = {1f, 2f, 3f, 4f, Float.NEGATIVE_INFINITY, 6f};
        float[] mc = m.clone();
        e = assertThrows(IllegalArgumentException.class, () -> Fp8Quantizer.fakeQuantizeRows(m, 0, 2, 3, Fp8Format.E5M2));
        assertTrue(e.getMessage().contains("row 1, col 1"), e.getMessage());
        assertArrayEquals(mc, m);
    }

    /** Values that stress the FP8 rounding: every grid value and midpoint of both formats and their neighbours. */
    static float[] adversarial() {
        List<Float> v = new ArrayList<>();
        for (float[] t : new float[][] {E4M3.values(), E5M2.values()}) {
            for (int c = 0; c < 127; c++) {
                float a = t[c];
                float b = t[c + 1];
                if (!Float.isFinite(a)) {
                    continue;
                }
                float mid = Float.isFinite(b) ? (float) (((double) a + b) / 2) : a * 1.1f;
                for (float p : new float[] {a, mid}) {
                    v.add(p);
                    v.add(Math.nextUp(p));
                    v.add(Math.nextDown(p));
                    v.add(-p);
                }
            }
        }
        for (float q : new float[] {Float.MIN_VALUE, -0f, Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.NaN, 1e-30f, 61440f, 464f, 480f}) {
            v.add(q);
        }
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.get(i);
        }
        return out;
    }

    @Tag("kernel")
    @Test
    void roundScaledKernelEqualsReference() {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] adv = adversarial();
        for (Fp8Format f : Fp8Format.values()) {
            for (int rep = 0; rep < 400; rep++) {
                int n = rep < 100 ? rep : adv.length;
                float[] x = new float[n + 3];
                for (int i = 0; i < x.length; i++) {
                    x[i] = rnd.nextInt(3) == 0 ? (float) rnd.nextGaussian() * 100 : adv[rnd.nextInt(adv.length)];
                }
                // sf = 1 hits the adversarial values exactly; other powers of two scale them.
                int e = rep % 3 == 0 ? 0 : rnd.nextInt(-10, 11);
                float sf = Math.scalb(1f, e);
                float s = Math.scalb(1f, -e);
                float[] a = x.clone();
                float[] b = x.clone();
                Fp8Quantizer.roundScaled(a, 1, n, sf, s, f);
                Fp8Quantizer.roundScaledScalar(b, 1, n, sf, s, f);
                for (int i = 0; i < x.length; i++) {
                    if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                        throw new AssertionError(f + " x=" + x[i] + " sf=" + sf + ": vector " + a[i] + " scalar " + b[i]);
                    }
                }
                // From one array into another (other offsets), vector and scalar: the same bits as in
                // place, the source untouched, nothing written outside the range.
                float[] src = x.clone();
                float[] dv = new float[n + 5];
                float[] ds = new float[n + 5];
                java.util.Arrays.fill(dv, 7f);
                java.util.Arrays.fill(ds, 7f);
                Fp8Quantizer.roundScaled(src, 1, dv, 4, n, sf, s, f);
                Fp8Quantizer.roundScaledScalar(src, 1, ds, 4, n, sf, s, f);
                org.junit.jupiter.api.Assertions.assertArrayEquals(x, src, "source changed");
                for (int i = 0; i < dv.length; i++) {
                    float want = i >= 4 && i < 4 + n ? b[i - 3] : 7f;
                    if (Float.floatToRawIntBits(dv[i]) != Float.floatToRawIntBits(want)
                            || Float.floatToRawIntBits(ds[i]) != Float.floatToRawIntBits(want)) {
                        throw new AssertionError(f + " into another array at " + i + ": vector " + dv[i] + " scalar "
                                + ds[i] + " expected " + want);
                    }
                }
            }
        }
    }

    @Test
    void roundScaledRejectsOverlappingRangesAtDifferentOffsets() {
        float[] x = new float[40];
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Fp8Quantizer.roundScaled(x, 0, x, 3, 20, 1f, 1f, Fp8Format.E4M3));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
        Fp8Quantizer.roundScaled(x, 0, x, 20, 20, 1f, 1f, Fp8Format.E4M3); // adjacent: allowed
    }
}
