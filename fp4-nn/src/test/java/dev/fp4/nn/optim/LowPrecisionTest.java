package dev.fp4.nn.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LowPrecisionTest {
    @Test
    void e4m3KnownCodesTiesAndSaturation() {
        assertEquals(0x38, LowPrecision.toE4m3(1f));
        assertEquals(0x7E, LowPrecision.toE4m3(448f));
        assertEquals(0x7E, LowPrecision.toE4m3(1e6f));               // saturates, never NaN
        assertEquals((byte) 0xFE, LowPrecision.toE4m3(-500f));
        assertEquals(0x01, LowPrecision.toE4m3(0x1p-9f));            // smallest subnormal
        assertEquals(0x00, LowPrecision.toE4m3(0x1p-10f));           // tie 0.5·2^-9 → even 0
        assertEquals(0x02, LowPrecision.toE4m3(1.5f * 0x1p-9f));     // tie → even 2
        assertEquals(0x38, LowPrecision.toE4m3(1.0625f));            // tie between 1 and 1.125 → 1
        assertEquals(0x3A, LowPrecision.toE4m3(1.1875f));            // tie between 1.125 and 1.25 → 1.25
        assertEquals(0x08, LowPrecision.toE4m3(0x1p-6f));            // smallest normal
        assertEquals((byte) 0x80, LowPrecision.toE4m3(-0f));
        assertTrue(Float.isNaN(LowPrecision.fromE4m3((byte) 0x7F)));
        for (int c = 0; c < 256; c++) {                               // every code round-trips
            if ((c & 0x7F) == 0x7F) {
                continue;
            }
            float v = LowPrecision.fromE4m3((byte) c);
            assertEquals((byte) c, LowPrecision.toE4m3(v), "code " + c + " = " + v);
        }
    }

    @Test
    void e4m3AndBf16RoundToNearest() {
        // Against a brute-force nearest search over all finite codes (ties to the even code).
        SplittableRandom r = new SplittableRandom(5);
        for (int k = 0; k < 20000; k++) {
            float x = (float) (r.nextDouble(-1, 1) * Math.pow(2, r.nextInt(-12, 10)));
            float best = Float.NaN;
            double bestErr = Double.POSITIVE_INFINITY;
            int bestCode = -1;
            for (int c = 0; c < 256; c++) {
                if ((c & 0x7F) == 0x7F) {
                    continue;
                }
                float v = LowPrecision.fromE4m3((byte) c);
                double err = Math.abs((double) v - x);
                if (err < bestErr || (err == bestErr && (c & 1) == 0 && Math.signum(v) == Math.signum(x))) {
                    bestErr = err;
                    best = v;
                    bestCode = c;
                }
            }
            float got = LowPrecision.fromE4m3(LowPrecision.toE4m3(x));
            if (Math.abs(x) <= 448) {
                assertEquals(best, got, 0f, "x = " + x + " code " + bestCode);
            }
        }
        assertEquals(1f, LowPrecision.fromBf16(LowPrecision.toBf16(1f + 0x1p-8f)));           // tie → even
        assertEquals(1f + 0x1p-6f, LowPrecision.fromBf16(LowPrecision.toBf16(1f + 3 * 0x1p-8f))); // tie → even (up)
        assertTrue(Float.isNaN(LowPrecision.fromBf16(LowPrecision.toBf16(Float.NaN))));
        for (int k = 0; k < 20000; k++) {
            float x = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-30, 30)));
            float y = LowPrecision.fromBf16(LowPrecision.toBf16(x));
            assertTrue(Math.abs(y - x) <= 0x1p-8 * Math.abs(x), x + " -> " + y);
        }
    }

    @Test
    void powerOfTwoScaleFitsTheFormatMax() {
        SplittableRandom r = new SplittableRandom(9);
        for (int k = 0; k < 10000; k++) {
            float amax = (float) Math.pow(2, r.nextDouble(-100, 100));
            for (float max : new float[] {448f, 65504f}) {
                float s = LowPrecision.powerOfTwoScale(amax, max);
                assertTrue(amax * s <= max && amax * s > max / 2, amax + " " + s);
                assertEquals(s, Math.scalb(1f, Math.getExponent(s)));
            }
        }
        assertEquals(1f, LowPrecision.powerOfTwoScale(0f, 448f));
        assertEquals(1f, LowPrecision.powerOfTwoScale(Float.NaN, 448f));
    }
}
