package dev.fp4.core.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class E2M1Test {

    @Test
    void valueTableMatchesTheSpecification() {
        // S EE M: E = 0 -> 0.5*M, else 2^(E-1) * (1 + M/2).
        float[] expected = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};
        for (int c = 0; c < 16; c++) {
            int e = (c >> 1) & 3;
            int m = c & 1;
            double v = e == 0 ? 0.5 * m : Math.pow(2, e - 1) * (1 + m / 2.0);
            if ((c & 8) != 0) {
                v = -v;
            }
            assertEquals(Float.floatToIntBits(expected[c]), Float.floatToIntBits(E2M1.decode(c)), "code " + c);
            assertEquals((float) v, E2M1.decode(c), 0f, "code " + c);
        }
        assertArrayEquals(expected, E2M1.values());
        assertThrows(IllegalArgumentException.class, () -> E2M1.decode(16));
        assertThrows(IllegalArgumentException.class, () -> E2M1.decode(-1));
    }

    @ParameterizedTest(name = "RNE {0} -> {1}")
    @CsvSource({
        "0.25, 0", "0.75, 1", "1.25, 1", "1.75, 2", "2.5, 2", "3.5, 4", "5.0, 4",
        "6.0, 6", "6.5, 6", "7.0, 6", "1e30, 6", "Infinity, 6",
        "-0.25, -0", "-0.75, -1", "-1.25, -1", "-1.75, -2", "-2.5, -2", "-3.5, -4", "-5.0, -4",
        "-6.0, -6", "-7.0, -6", "-Infinity, -6",
        "0.0, 0", "-0.0, -0", "1e-45, 0", "-1e-45, -0", "0.2500001, 0.5", "4.999999, 4", "5.0000005, 6",
    })
    void roundToNearestEvenTieTable(float x, float expected) {
        float got = E2M1.decode(E2M1.encode(x));
        assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(got), () -> x + " -> " + got);
    }

    @ParameterizedTest(name = "HALF_UP {0} -> {1}")
    @CsvSource({
        "0.25, 0.5", "0.75, 1", "1.25, 1.5", "1.75, 2", "2.5, 3", "3.5, 4", "5.0, 6",
        "-0.25, 0", "-0.75, -0.5", "-1.25, -1", "-1.75, -1.5", "-2.5, -2", "-3.5, -3", "-5.0, -4",
        "-0.0, 0", "-0.1, 0", "0.1, 0", "7, 6", "-7, -6", "Infinity, 6", "-Infinity, -6",
    })
    void halfUpTieTable(float x, float expected) {
        float got = E2M1.decode(E2M1.encodeHalfUp(x));
        assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(got), () -> x + " -> " + got);
    }

    @Test
    void nanIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> E2M1.encode(Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> E2M1.encodeHalfUp(Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> E2M1.encodeStochastic(Float.NaN, 0.5f));
    }

    @Test
    void packingVectorsFromTheSpecification() {
        assertArrayEquals(new byte[] {(byte) 0x10, (byte) 0x86}, packValues(0.0f, 0.5f, 4.0f, -0.0f));
        assertArrayEquals(new byte[] {(byte) 0x28, (byte) 0x5F}, packValues(-0.0f, 1.0f, -6.0f, 3.0f));
        byte[] packed = {(byte) 0x28, (byte) 0x5F};
        int[] codes = new int[4];
        E2M1.unpack(packed, 0, 4, codes, 0);
        assertArrayEquals(new int[] {0x8, 0x2, 0xF, 0x5}, codes);
        assertEquals(0x8, E2M1.unpackLow(packed[0]));
        assertEquals(0x2, E2M1.unpackHigh(packed[0]));
        // Odd count: the last high nibble is zero.
        assertArrayEquals(new byte[] {(byte) 0x21, (byte) 0x0F}, E2M1.pack(1, 2, 15));
    }

    @Test
    void setCodeAtKeepsTheOtherNibble() {
        byte[] p = new byte[2];
        E2M1.setCodeAt(p, 1, 0xA);
        E2M1.setCodeAt(p, 2, 0x3);
        E2M1.setCodeAt(p, 0, 0x5);
        assertArrayEquals(new byte[] {(byte) 0xA5, (byte) 0x03}, p);
        E2M1.setCodeAt(p, 1, 0x1);
        assertEquals(0x15, p[0] & 0xFF);
        assertEquals(0x1, E2M1.codeAt(p, 1));
        assertThrows(IllegalArgumentException.class, () -> E2M1.setCodeAt(p, 0, 16));
    }

    @Test
    void roundTripOverAllCodes() {
        for (int c = 0; c < 16; c++) {
            float v = E2M1.decode(c);
            assertEquals(c, E2M1.encode(v), "RNE code " + c);
            assertEquals(c == 8 ? 0 : c, E2M1.encodeHalfUp(v), "HALF_UP code " + c);
            for (float u : new float[] {0f, 0.5f, 0.999f}) {
                assertEquals(c, E2M1.encodeStochastic(v, u), "SR code " + c);
            }
        }
    }

    /**
     * Sign of |x − a| − |x − b|, exactly: a double difference such as 1e17 − 4 vs 1e17 − 6 would
     * round to a false tie, so only differences between x and the bracketing values are formed
     * (exact in double for these small formats).
     */
    static int closer(double x, double a, double b) {
        if (a == b) {
            return 0;
        }
        double lo = Math.min(a, b);
        double hi = Math.max(a, b);
        int loCloser;
        if (x >= hi) {
            loCloser = 1;
        } else if (x <= lo) {
            loCloser = -1;
        } else {
            loCloser = Double.compare(x - lo, hi - x);
        }
        // loCloser < 0 means lo is closer.
        return a == lo ? loCloser : -loCloser;
    }

    /** Brute force: the nearest value of the same sign, ties to the even code. */
    static int nearestEven(float x) {
        int sign = Float.floatToRawIntBits(x) < 0 ? 8 : 0;
        int best = sign;
        for (int c = sign + 1; c < sign + 8; c++) {
            int cmp = closer(x, E2M1.decode(c), E2M1.decode(best));
            if (cmp < 0 || (cmp == 0 && (c & 1) == 0)) {
                best = c;
            }
        }
        return best;
    }

    /** Brute force: the nearest value, ties to the larger value, zero always +0. */
    static int nearestHalfUp(float x) {
        int best = 0;
        for (int c = 1; c < 16; c++) {
            int cmp = closer(x, E2M1.decode(c), E2M1.decode(best));
            if (cmp < 0 || (cmp == 0 && E2M1.decode(c) > E2M1.decode(best))) {
                best = c;
            }
        }
        return E2M1.decode(best) == 0f ? 0 : best;
    }

    @Test
    void agreesWithBruteForceOnManyFloatBitPatterns() {
        int checked = 0;
        // A coarse sweep of all finite and infinite floats ...
        for (long b = 0; b < (1L << 32); b += 4099) {
            checked += check(Float.intBitsToFloat((int) b));
        }
        // ... and every bit pattern within 300 ulps of each midpoint and each value, both signs.
        float[] points = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, Float.MIN_VALUE};
        for (float p : points) {
            int pb = Float.floatToRawIntBits(p);
            for (int d = -300; d <= 300; d++) {
                checked += check(Float.intBitsToFloat(pb + d));
                checked += check(-Float.intBitsToFloat(pb + d));
            }
        }
        assertEquals(true, checked > 1_000_000);
    }

    private static int check(float x) {
        if (Float.isNaN(x)) {
            return 0;
        }
        int rne = E2M1.encode(x);
        if (rne != nearestEven(x)) {
            throw new AssertionError("RNE " + x + ": got " + rne + " want " + nearestEven(x));
        }
        int hu = E2M1.encodeHalfUp(x);
        if (hu != nearestHalfUp(x)) {
            throw new AssertionError("HALF_UP " + x + ": got " + hu + " want " + nearestHalfUp(x));
        }
        return 1;
    }

    @Test
    void stochasticRoundsToANeighbourWithTheRightThreshold() {
        // 1.2 lies between 1 and 1.5: p = (1.2 - 1) / 0.5 = 0.4 (computed exactly in FP32 from 1.2f).
        float x = 1.2f;
        float p = (x - 1f) * 2f;
        assertEquals(3, E2M1.encodeStochastic(x, 0f)); // u < p rounds up to 1.5
        assertEquals(3, E2M1.encodeStochastic(x, Math.nextDown(p)));
        assertEquals(2, E2M1.encodeStochastic(x, p)); // u == p does not round up
        assertEquals(2, E2M1.encodeStochastic(x, 0.99f));
        assertEquals(8 | 3, E2M1.encodeStochastic(-x, 0f));
        // Saturation and infinities never go beyond 6.
        assertEquals(7, E2M1.encodeStochastic(100f, 0f));
        assertEquals(15, E2M1.encodeStochastic(Float.NEGATIVE_INFINITY, 0f));
        // Small negative values keep the sign of zero.
        assertEquals(8, E2M1.encodeStochastic(-0.1f, 0.9f));
    }

    private static byte[] packValues(float... v) {
        int[] codes = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            codes[i] = E2M1.encode(v[i]);
        }
        return E2M1.pack(codes);
    }
}
