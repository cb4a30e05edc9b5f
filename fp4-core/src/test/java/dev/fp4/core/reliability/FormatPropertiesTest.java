package dev.fp4.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.format.BF16;
import dev.fp4.core.format.E2M1;
import dev.fp4.core.format.E4M3;
import dev.fp4.core.format.E5M2;
import dev.fp4.core.format.E8M0;
import java.util.SplittableRandom;
import java.util.function.IntUnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * Round-trip properties of the number formats:
 * <ul>
 *   <li>encode(decode(c)) = c for every code (exhaustive: 16 E2M1, 256 E4M3, 256 E5M2, 256 E8M0,
 *       65536 BF16 codes); NaN codes map to the format's canonical NaN (E4M3 0x7F, E5M2 0x7E) or,
 *       for BF16, keep sign and payload with the quiet bit set;</li>
 *   <li>decode(encode(x)) is the nearest representable value, ties to the even code, for seeded
 *       adversarial x and for every exact midpoint between neighbouring codes; saturation (E2M1,
 *       E4M3, saturating E5M2) or overflow to ±∞ (E5M2, BF16) beyond the largest finite value;</li>
 *   <li>rounding is monotonic: x ≤ y implies round(x) ≤ round(y).</li>
 * </ul>
 */
class FormatPropertiesTest {

    static final int TRIES = 3000;

    /** A format under test: its rounding, codes and the value table. */
    record Format(String name, IntUnaryOperator encodeDecodeCode, java.util.function.DoubleUnaryOperator round, float[] values,
                  int mantissaBits, double max, boolean saturates) {
    }

    static final Format E4M3_SAT = new Format("E4M3", c -> E4M3.encode(E4M3.decode(c)), x -> E4M3.round((float) x), E4M3.values(),
            3, 448, true);
    static final Format E5M2_SAT = new Format("E5M2 saturating", c -> E5M2.encodeSaturating(E5M2.decode(c)),
            x -> E5M2.round((float) x), E5M2.values(), 2, 57344, true);
    static final Format E5M2_IEEE = new Format("E5M2", c -> E5M2.encode(E5M2.decode(c)), x -> E5M2.decode(E5M2.encode((float) x)),
            E5M2.values(), 2, 57344, false);

    @Test
    void everyCodeRoundTrips() {
        for (int c = 0; c < 16; c++) {
            assertEquals(c, E2M1.encode(E2M1.decode(c)), "E2M1 code " + c);
            assertEquals(c, E2M1.encodeStochastic(E2M1.decode(c), 0.999f), "E2M1 SR of a grid value, code " + c);
        }
        for (int c = 0; c < 256; c++) {
            float v = E4M3.decode(c);
            int expected = Float.isNaN(v) ? E4M3.NAN : c;
            assertEquals(expected, E4M3.encode(v), "E4M3 code 0x" + Integer.toHexString(c));
            assertEquals(expected, E4M3.encodeNonSaturating(v), "E4M3 non-saturating code 0x" + Integer.toHexString(c));
            float w = E5M2.decode(c);
            assertEquals(Float.isNaN(w) ? E5M2.NAN : c, E5M2.encode(w), "E5M2 code 0x" + Integer.toHexString(c));
            int sat = Float.isNaN(w) ? E5M2.NAN : Float.isInfinite(w) ? (c & 0x80) | 0x7B : c;
            assertEquals(sat, E5M2.encodeSaturating(w), "E5M2 saturating code 0x" + Integer.toHexString(c));
            if (c < 255) {
                assertEquals(c, E8M0.encode(E8M0.decode(c)), "E8M0 code " + c);
            }
        }
        assertTrue(Float.isNaN(E8M0.decode(0xFF)));
        assertEquals(0xFF, E8M0.encode(Float.NaN));
        for (int c = 0; c < 0x10000; c++) {
            float v = BF16.decode(c);
            int expected = Float.isNaN(v) ? c | 0x40 : c;             // NaN: quiet bit (bit 6 of BF16) set
            assertEquals(expected, BF16.encode(v), "BF16 code 0x" + Integer.toHexString(c));
            assertEquals(Float.floatToRawIntBits(BF16.decode(expected)), Float.floatToRawIntBits(BF16.round(v)), "BF16.round");
        }
        System.out.println("PROPERTY exhaustive code round-trips tries=" + (16 + 3 * 256 + 255 + 65536));
    }

    /** The nearest finite table value to x by brute force, ties to the even code; NaN if beyond the top midpoint. */
    static double nearestFinite(Format f, double x) {
        double best = Double.NaN;
        int bestCode = -1;
        double bestDist = Double.POSITIVE_INFINITY;
        for (int c = 0; c < f.values().length; c++) {
            double v = f.values()[c];
            if (!Double.isFinite(v) || (Math.copySign(1, v) != Math.copySign(1, x) && v == 0)) {
                continue;                                           // skip NaN/inf and the zero of the other sign
            }
            double d = Math.abs(v - x);
            if (d < bestDist || (d == bestDist && (c & 1) == 0)) {
                best = v;
                bestCode = c;
                bestDist = d;
            }
        }
        // Beyond max + half an ulp of the top binade the value is out of range (saturate or overflow).
        double ulpTop = Math.scalb(1.0, Math.getExponent(f.max()) - f.mantissaBits());
        if (Math.abs(x) > f.max() + ulpTop / 2 || (Math.abs(x) == f.max() + ulpTop / 2 && (bestCode & 1) == 1)) {
            return Double.NaN;
        }
        return best;
    }

    static float midpointOrValue(SplittableRandom r, float[] values) {
        int c = r.nextInt(values.length);
        float v = values[c];
        int c2 = (c & 0x80) | Math.min((c & 0x7F) + 1, 0x7F);
        float w = values[c2];
        if (!Float.isFinite(v) || !Float.isFinite(w)) {
            return v == v ? v : 0f;
        }
        return r.nextBoolean() ? v : (float) ((v + (double) w) / 2);   // midpoints of 8-bit codes are exact in FP32
    }

    @Test
    void fp8RoundingIsNearestEvenWithSaturationOrOverflow() {
        for (Format f : new Format[] {E4M3_SAT, E5M2_SAT, E5M2_IEEE}) {
            Property.forAll(f.name() + " nearest-even", f.name().hashCode(), TRIES,
                    r -> r.nextInt(3) == 0 ? midpointOrValue(r, f.values())
                            : r.nextBoolean() ? Floats.finite(r)
                            : (float) (r.nextGaussian() * Math.scalb(1.0, r.nextInt(-20, 18))),
                    x -> {
                        double got = f.round().applyAsDouble(x);
                        double want = nearestFinite(f, x);
                        if (Double.isNaN(want)) {
                            double beyond = f.saturates() ? Math.copySign(f.max(), x) : Math.copySign(Double.POSITIVE_INFINITY, x);
                            assertEquals(beyond, got, "beyond range: " + x);
                        } else {
                            assertEquals(Double.doubleToRawLongBits(want), Double.doubleToRawLongBits(got), "x=" + x);
                        }
                    });
        }
    }

    @Test
    void bf16RoundingIsNearestEvenWithOverflowToInfinity() {
        Property.forAll("BF16 nearest-even", 16, TRIES, r -> {
            float base = Floats.finite(r);
            return r.nextInt(3) == 0 ? Float.intBitsToFloat((Float.floatToRawIntBits(base) & 0xFFFF0000) | 0x8000) : base; // exact ties
        }, x -> {
            int bits = Float.floatToRawIntBits(x);
            int lo = bits & 0xFFFF0000;                             // toward zero
            int hi = lo + 0x10000;                                  // away from zero (may be ±inf)
            double dl = Math.abs((double) x - Float.intBitsToFloat(lo));
            double hv = (hi & 0x7FFFFFFF) == 0x7F800000 ? Math.copySign(0x1p128, x) : Float.intBitsToFloat(hi);
            double dh = Math.abs((double) x - hv);
            int want = dl < dh || (dl == dh && ((lo >>> 16) & 1) == 0) ? lo : hi;
            assertEquals(want, Float.floatToRawIntBits(BF16.round(x)), "x=" + x);
            assertEquals(want >>> 16, BF16.encode(x), "encode x=" + x);
        });
    }

    @Test
    void roundingIsMonotonic() {
        Property.forAll("monotonic rounding E2M1/E4M3/E5M2/BF16", 99, TRIES, r -> {
            float a = Floats.finite(r);
            float b = r.nextBoolean() ? Floats.finite(r) : Math.nextUp(a);
            return new float[] {Math.min(a, b), Math.max(a, b)};
        }, p -> {
            float x = p[0];
            float y = p[1];
            assertTrue(E2M1.decode(E2M1.encode(x)) <= E2M1.decode(E2M1.encode(y)), "E2M1 RNE");
            assertTrue(E2M1.decode(E2M1.encodeHalfUp(x)) <= E2M1.decode(E2M1.encodeHalfUp(y)), "E2M1 HALF_UP");
            assertTrue(E4M3.round(x) <= E4M3.round(y), "E4M3");
            assertTrue(E5M2.round(x) <= E5M2.round(y), "E5M2 saturating");
            assertTrue(E5M2.decode(E5M2.encode(x)) <= E5M2.decode(E5M2.encode(y)), "E5M2");
            assertTrue(BF16.round(x) <= BF16.round(y), "BF16");
        });
    }

    @Test
    void nonFiniteInputsFollowEachFormatsRule() {
        for (float nan : new float[] {Float.NaN, Float.intBitsToFloat(0xFFC00001), Float.intBitsToFloat(0x7F800001)}) {
            assertEquals(E4M3.NAN, E4M3.encode(nan));
            assertEquals(E5M2.NAN, E5M2.encode(nan));
            assertTrue(Float.isNaN(BF16.round(nan)), "BF16 keeps NaN (a signalling NaN is quieted, never rounded to inf)");
        }
        assertEquals(0x7E, E4M3.encode(Float.POSITIVE_INFINITY));      // saturating: +448
        assertEquals(0xFE, E4M3.encode(Float.NEGATIVE_INFINITY));
        assertEquals(0x7F, E4M3.encodeNonSaturating(Float.POSITIVE_INFINITY));
        assertEquals(E5M2.POSITIVE_INFINITY, E5M2.encode(Float.POSITIVE_INFINITY));
        assertEquals(0x7B, E5M2.encodeSaturating(Float.POSITIVE_INFINITY));
        assertEquals(7, E2M1.encode(Float.POSITIVE_INFINITY));          // E2M1 saturates ±inf to ±6
        assertEquals(0xF, E2M1.encode(Float.NEGATIVE_INFINITY));
    }
}
