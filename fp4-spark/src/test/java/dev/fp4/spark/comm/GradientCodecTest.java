package dev.fp4.spark.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.format.BF16;
import dev.fp4.core.format.E4M3;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The wire formats of the gradient all-reduce, against fp4-core's formats. */
class GradientCodecTest {
    @Test
    void theE4m3TableEncodesEveryTopHalfWithEveryKindOfLowerBitsAsTheFormatDoes() {
        int[] lows = {0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF};
        for (int h = 0; h < 1 << 16; h++) {
            for (int low : lows) {
                float x = Float.intBitsToFloat(h << 16 | low);
                assertEquals(E4M3.encodeNonSaturating(x), E4M3Codes.encode(x), () -> Integer.toHexString(Float.floatToRawIntBits(x)));
            }
        }
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 2_000_000; i++) {
            float x = Float.intBitsToFloat(r.nextInt());
            assertEquals(E4M3.encodeNonSaturating(x), E4M3Codes.encode(x), () -> Integer.toHexString(Float.floatToRawIntBits(x)));
        }
    }

    @Test
    void fp8ScaleIsTheLargestPowerOfTwoThatKeepsAmaxWithin448() {
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 100_000; i++) {
            float amax = i < 554 ? Math.scalb(i % 2 == 0 ? 1f : 1.75f, -149 + i / 2 % 277)   // powers of two and 448·2^j
                    : Float.intBitsToFloat(r.nextInt(0x00000001, 0x7F800000));
            float[] x = {amax * 0.25f, -amax, 0f};
            int k = GradientCodec.FP8.scaleExponent(x, 0, 3);
            assertTrue(k >= -126 && k <= 127);
            assertTrue((double) amax * Math.scalb(1.0, k) <= 448, () -> amax + " k " + k);
            if (k < 127) {
                assertTrue((double) amax * Math.scalb(1.0, k + 1) > 448, () -> amax + " k " + k);
            }
        }
        assertEquals(0, GradientCodec.FP8.scaleExponent(new float[] {0f, -0f}, 0, 2), "zero message");
        assertEquals(GradientCodec.FP8.scaleExponent(new float[] {1f}, 0, 1),
                GradientCodec.FP8.scaleExponent(new float[] {1f, Float.POSITIVE_INFINITY, Float.NaN}, 0, 3), "non-finite values ignored");
    }

    @ParameterizedTest
    @EnumSource(GradientCodec.class)
    void aHopIsTheFormatsRoundingAndRoundTripIsIdempotent(GradientCodec codec) {
        SplittableRandom r = new SplittableRandom(11);
        int n = 1000;
        float[] x = new float[n + 5];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(-30, 30)));
        }
        x[n] = Float.POSITIVE_INFINITY;
        x[n + 1] = Float.NaN;
        x[n + 2] = -0f;
        x[n + 3] = Float.MIN_VALUE;
        x[n + 4] = -Float.MAX_VALUE;
        int k = codec.scaleExponent(x, 0, x.length);
        ByteBuffer buf = ByteBuffer.allocate(x.length * codec.bytesPerValue());
        codec.encode(x, 0, x.length, k, buf);
        assertEquals(buf.capacity(), buf.position());
        buf.flip();
        float[] got = new float[x.length];
        codec.decode(buf, x.length, k, got, 0);
        for (int i = 0; i < x.length; i++) {
            float want = switch (codec) {
                case FP32 -> x[i];
                case BF16 -> BF16.round(x[i]);
                case FP8 -> Math.scalb(E4M3.decode(E4M3.encodeNonSaturating(x[i] * Math.scalb(1f, k))), -k);
            };
            if (codec == GradientCodec.FP8 && Float.isInfinite(want) && !Float.isInfinite(x[i])) {
                want = Math.copySign(Float.MAX_VALUE, want);     // rounded up past FP32's range: kept finite
            }
            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[i]), codec + " at " + i + ": " + x[i]);
        }
        if (codec == GradientCodec.FP8) {
            assertTrue(Float.isNaN(got[n]), "an infinite gradient arrives as NaN, never finite");
        }
        float[] once = x.clone();
        codec.roundTrip(once, 0, once.length, k);
        org.junit.jupiter.api.Assertions.assertArrayEquals(got, once, "roundTrip is the hop");
        float[] twice = once.clone();
        codec.roundTrip(twice, 0, twice.length, codec.scaleExponent(once, 0, once.length));
        org.junit.jupiter.api.Assertions.assertArrayEquals(once, twice, "what the owner keeps survives another hop");
    }

    @Test
    void namesAreTheCommandLines() {
        assertEquals(GradientCodec.FP8, GradientCodec.of("fp8"));
        assertEquals(GradientCodec.BF16, GradientCodec.of("BF16"));
        assertEquals("fp32", GradientCodec.FP32.label());
        assertEquals("unknown gradient codec 'fp16'; valid: fp32, bf16, fp8",
                assertThrows(IllegalArgumentException.class, () -> GradientCodec.of("fp16")).getMessage());
    }
}
