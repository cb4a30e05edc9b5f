package dev.fp4.core.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

class E8M0AndBF16Test {

    @Test
    void e8m0AllCodes() {
        for (int c = 0; c < 255; c++) {
            float v = E8M0.decode(c);
            assertEquals(Math.pow(2, c - 127), v, 0.0, "code " + c);
            assertEquals(c, E8M0.encode(v));
            assertEquals(c - 127, E8M0.exponent(c));
            assertEquals(c, E8M0.fromExponent(c - 127));
        }
        assertTrue(Float.isNaN(E8M0.decode(0xFF)));
        assertEquals(0xFF, E8M0.encode(Float.NaN));
        assertEquals(0, E8M0.encode(0x1p-127f));
        assertEquals(254, E8M0.encode(0x1p127f));
        for (float bad : new float[] {0f, -1f, 3f, 0x1p-128f, Float.POSITIVE_INFINITY, 1.5f}) {
            assertThrows(IllegalArgumentException.class, () -> E8M0.encode(bad), "value " + bad);
        }
        assertThrows(IllegalArgumentException.class, () -> E8M0.fromExponent(128));
        assertThrows(IllegalArgumentException.class, () -> E8M0.exponent(0xFF));
    }

    /** Reference: the nearest of the two BF16 neighbours of x, ties to the even pattern. */
    static float bf16Reference(float x) {
        int bits = Float.floatToRawIntBits(x);
        float down = Float.intBitsToFloat(bits & 0xFFFF0000);
        float up = Float.intBitsToFloat((bits & 0xFFFF0000) + 0x10000);
        // Past the largest BF16 the next pattern is infinity, which sits where 2^128 would be.
        double upValue = Float.isInfinite(up) ? Math.copySign(0x1p128, up) : up;
        double dd = Math.abs((double) x - down);
        double du = Math.abs(upValue - x);
        if (Float.isInfinite(x) || dd < du) {
            return down;
        }
        if (du < dd) {
            return up;
        }
        return ((bits >>> 16) & 1) == 0 ? down : up;
    }

    @Test
    void bf16AgreesWithNearestNeighbourReference() {
        for (long b = 0; b < (1L << 32); b += 9973) {
            float x = Float.intBitsToFloat((int) b);
            if (Float.isNaN(x)) {
                continue;
            }
            float want = bf16Reference(x);
            assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(BF16.round(x)), () -> "x=" + x);
            assertEquals(Float.floatToRawIntBits(want) >>> 16, BF16.encode(x));
        }
        // Ties: 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even -> 1.
        assertEquals(1f, BF16.round(1f + 0x1p-8f));
        assertEquals(1f + 0x1p-6f, BF16.round(1f + 0x1p-7f + 0x1p-8f));
        // Overflow rounds to infinity; the largest BF16 stays.
        assertEquals(Float.POSITIVE_INFINITY, BF16.round(Float.MAX_VALUE));
        assertEquals(Float.intBitsToFloat(0x7F7F0000), BF16.round(Float.intBitsToFloat(0x7F7F0000)));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(BF16.round(-0f)));
        assertEquals(0x3F80, BF16.encode(1f));
        assertEquals(1f, BF16.decode(0x3F80));
        assertThrows(IllegalArgumentException.class, () -> BF16.decode(0x10000));
    }

    @Test
    void bf16NaNStaysQuietNaN() {
        // A signalling NaN whose payload lives only in the low 16 bits would truncate to infinity.
        float snan = Float.intBitsToFloat(0x7F800001);
        assertTrue(Float.isNaN(BF16.round(snan)));
        assertEquals(0x7FC0, BF16.encode(snan));
        float negNan = Float.intBitsToFloat(0xFFC12345);
        assertEquals(0xFFC1, BF16.encode(negNan));
        assertTrue(Float.isNaN(BF16.decode(BF16.encode(Float.NaN))));
    }

    @Tag("kernel")
    @Test
    void roundInPlaceKernelEqualsScalarTwin() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int len : new int[] {0, 1, 3, 15, 16, 17, 63, 64, 65, 1000}) {
            float[] x = new float[len + 5];
            for (int i = 0; i < x.length; i++) {
                x[i] = switch (rnd.nextInt(8)) {
                    case 0 -> Float.intBitsToFloat(rnd.nextInt()); // any pattern: NaN, inf, subnormal
                    case 1 -> Float.intBitsToFloat((rnd.nextInt() & 0xFFFF0000) | 0x8000); // exact tie
                    case 2 -> Float.intBitsToFloat(0x7F800000 | (rnd.nextInt() & 0x8000FFFF) | 1); // low-payload NaN
                    case 3 -> rnd.nextBoolean() ? 0f : -0f;
                    default -> (float) rnd.nextGaussian() * 10;
                };
            }
            float[] a = x.clone();
            float[] b = x.clone();
            BF16.roundInPlace(a, 2, len);
            BF16.roundInPlaceScalar(b, 2, len);
            for (int i = 0; i < x.length; i++) {
                assertEquals(Float.floatToRawIntBits(b[i]), Float.floatToRawIntBits(a[i]), "len " + len + " i " + i);
            }
        }
    }
}
