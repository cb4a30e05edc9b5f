package dev.fp4.core.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class Fp8Test {

    private static void assertBits(float expected, float actual, String what) {
        assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(actual),
                () -> what + ": expected " + expected + " got " + actual);
    }

    @Test
    void e4m3Landmarks() {
        assertBits(448f, E4M3.decode(0x7E), "max");
        assertBits(-448f, E4M3.decode(0xFE), "-max");
        assertTrue(Float.isNaN(E4M3.decode(0x7F)));
        assertTrue(Float.isNaN(E4M3.decode(0xFF)));
        assertBits(0x1p-6f, E4M3.decode(0x08), "min normal");
        assertBits(0x1p-9f, E4M3.decode(0x01), "min subnormal");
        assertBits(7 * 0x1p-9f, E4M3.decode(0x07), "max subnormal");
        assertBits(-0f, E4M3.decode(0x80), "-0");
        assertBits(1f, E4M3.decode(0x38), "one");
        assertEquals(448f, E4M3.MAX);
        // Saturation: 464 is the tie between 448 (mantissa 110, even) and 480 (the NaN pattern).
        assertEquals(0x7E, E4M3.encode(464f));
        assertEquals(0x7E, E4M3.encodeNonSaturating(464f));
        assertEquals(0x7E, E4M3.encode(465f));
        assertEquals(E4M3.NAN, E4M3.encodeNonSaturating(465f));
        assertEquals(0xFF, E4M3.encodeNonSaturating(-1e9f));
        assertEquals(0x7E, E4M3.encode(Float.POSITIVE_INFINITY));
        assertEquals(0xFE, E4M3.encode(Float.NEGATIVE_INFINITY));
        assertEquals(0x7F, E4M3.encode(Float.NaN));
        assertEquals(0x80, E4M3.encode(-0f));
        // Subnormals: half the smallest subnormal ties to 0 (even); just above rounds up.
        assertEquals(0x00, E4M3.encode(0x1p-10f));
        assertEquals(0x01, E4M3.encode(Math.nextUp(0x1p-10f)));
        assertEquals(0x02, E4M3.encode(3 * 0x1p-10f)); // 1.5 quanta: tie to even 2
        assertEquals(0x08, E4M3.encode(15 * 0x1p-10f)); // 7.5 quanta: tie to even 8 = min normal
    }

    @Test
    void e5m2Landmarks() {
        assertBits(57344f, E5M2.decode(0x7B), "max");
        assertBits(Float.POSITIVE_INFINITY, E5M2.decode(0x7C), "inf");
        assertBits(Float.NEGATIVE_INFINITY, E5M2.decode(0xFC), "-inf");
        for (int c : new int[] {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}) {
            assertTrue(Float.isNaN(E5M2.decode(c)), "NaN code " + c);
        }
        assertBits(0x1p-14f, E5M2.decode(0x04), "min normal");
        assertBits(0x1p-16f, E5M2.decode(0x01), "min subnormal");
        assertBits(3 * 0x1p-16f, E5M2.decode(0x03), "max subnormal");
        // 61440 is the tie between 57344 (mantissa 11, odd) and 2^16: the even side overflows.
        assertEquals(0x7C, E5M2.encode(61440f));
        assertEquals(0x7B, E5M2.encode(Math.nextDown(61440f)));
        assertEquals(0x7B, E5M2.encodeSaturating(61440f));
        assertEquals(0xFC, E5M2.encode(Float.NEGATIVE_INFINITY));
        assertEquals(0xFB, E5M2.encodeSaturating(Float.NEGATIVE_INFINITY));
        assertEquals(E5M2.NAN, E5M2.encode(Float.NaN));
        assertEquals(0x80, E5M2.encode(-0f));
        assertEquals(0x00, E5M2.encode(0x1p-17f));
        assertEquals(0x01, E5M2.encode(Math.nextUp(0x1p-17f)));
    }

    @Test
    void roundTripOverAllCodes() {
        for (int c = 0; c < 256; c++) {
            float v = E4M3.decode(c);
            if (Float.isNaN(v)) {
                assertEquals(E4M3.NAN, E4M3.encode(v));
            } else {
                assertEquals(c, E4M3.encode(v), "E4M3 code " + c);
                assertEquals(c, E4M3.encodeNonSaturating(v), "E4M3 code " + c);
            }
            float w = E5M2.decode(c);
            if (Float.isNaN(w)) {
                assertEquals(E5M2.NAN, E5M2.encode(w));
            } else {
                assertEquals(c, E5M2.encode(w), "E5M2 code " + c);
                if (!Float.isInfinite(w)) {
                    assertEquals(c, E5M2.encodeSaturating(w), "E5M2 code " + c);
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> E4M3.decode(256));
    }

    /**
     * Brute force over the finite codes of the input's sign plus the first value beyond the
     * maximum (480 for E4M3, 2^16 for E5M2, both with even or NaN pattern as per the format):
     * nearest value, ties to the even code. Returns -1 when the winner is the overflow value.
     */
    static int bruteForce(float[] table, float overflowValue, int overflowCodeParity, float x) {
        int sign = Float.floatToRawIntBits(x) < 0 ? 0x80 : 0;
        double ax = Math.abs((double) x);
        int best = sign;
        for (int c = sign + 1; c < sign + 128; c++) {
            float v = table[c];
            if (Float.isNaN(v) || Float.isInfinite(v)) {
                continue;
            }
            int cmp = E2M1Test.closer(ax, Math.abs(v), Math.abs(table[best]));
            if (cmp < 0 || (cmp == 0 && (c & 1) == 0)) {
                best = c;
            }
        }
        int cmp = E2M1Test.closer(ax, overflowValue, Math.abs(table[best]));
        if (cmp < 0 || (cmp == 0 && overflowCodeParity == 0)) {
            return -1;
        }
        return best;
    }

    @Test
    void agreeWithBruteForceOnManyFloatBitPatterns() {
        float[] t4 = E4M3.values();
        float[] t5 = E5M2.values();
        int n = 0;
        for (long b = 0; b < (1L << 32); b += 65521) {
            n += checkBoth(Float.intBitsToFloat((int) b), t4, t5);
        }
        // Every pattern within 3 ulps of every midpoint and every value of both formats.
        for (float[] t : new float[][] {t4, t5}) {
            for (int c = 0; c < 127; c++) {
                float v = t[c];
                float next = t[c + 1];
                if (Float.isNaN(next) || Float.isInfinite(next)) {
                    next = t == t4 ? 480f : 65536f;
                }
                float mid = (float) (((double) v + next) / 2);
                for (float p : new float[] {v, mid}) {
                    int pb = Float.floatToRawIntBits(p);
                    for (int d = -3; d <= 3; d++) {
                        n += checkBoth(Float.intBitsToFloat(pb + d), t4, t5);
                        n += checkBoth(-Float.intBitsToFloat(pb + d), t4, t5);
                    }
                }
            }
        }
        assertTrue(n > 60_000);
    }

    private static int checkBoth(float x, float[] t4, float[] t5) {
        if (Float.isNaN(x)) {
            return 0;
        }
        int sign = Float.floatToRawIntBits(x) < 0 ? 0x80 : 0;
        // E4M3: the pattern past 448 is 480 = S.1111.111 (odd); overflow gives NaN / saturates.
        int want4 = bruteForce(t4, 480f, 1, x);
        int sat4 = want4 == -1 || Float.isInfinite(x) ? sign | 0x7E : want4;
        int non4 = want4 == -1 || Float.isInfinite(x) ? sign | 0x7F : want4;
        assertEquals(sat4, E4M3.encode(x), () -> "E4M3 " + x);
        assertEquals(non4, E4M3.encodeNonSaturating(x), () -> "E4M3 non-saturating " + x);
        // E5M2: the pattern past 57344 is 2^16 = S.11111.00 (even), i.e. infinity.
        int want5 = bruteForce(t5, 65536f, 0, x);
        int sat5 = want5 == -1 || Float.isInfinite(x) ? sign | 0x7B : want5;
        int ieee5 = want5 == -1 || Float.isInfinite(x) ? sign | 0x7C : want5;
        assertEquals(sat5, E5M2.encodeSaturating(x), () -> "E5M2 saturating " + x);
        assertEquals(ieee5, E5M2.encode(x), () -> "E5M2 " + x);
        return 1;
    }
}
