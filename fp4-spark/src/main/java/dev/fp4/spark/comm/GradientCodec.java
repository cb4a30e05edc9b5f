package dev.fp4.spark.comm;

import dev.fp4.core.format.E4M3;
import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * How gradient values travel between replicas. Every hop decodes to FP32 and every sum is formed
 * in FP32; only the payload on the wire is compressed.
 *
 * <ul>
 * <li>{@link #FP32}: the raw bits, exact.</li>
 * <li>{@link #BF16}: each value rounded to bfloat16 (nearest, ties to even), 2 bytes.</li>
 * <li>{@link #FP8}: E4M3 with one power-of-two scale per message (one parameter's piece), as
 * FP8-LM sends its gradients: s = 2<sup>k</sup> with k the largest integer such that
 * amax · 2<sup>k</sup> ≤ 448 (amax over the finite values; k = 0 when there are none, k clamped to
 * [−126, 127]); the wire holds E4M3(x · s) (round to nearest even) and the receiver takes
 * E4M3⁻¹(code) · 2<sup>−k</sup>, both exact scalings. ±∞ and NaN travel as NaN (E4M3 has no ∞),
 * so a diverged gradient is never turned into a finite one, and a finite value that rounds up
 * beyond FP32's range is kept at ±{@link Float#MAX_VALUE}. 1 byte.</li>
 * </ul>
 * {@code decode(encode(x))} is idempotent under the same scale, which lets the owner of a reduced
 * chunk keep exactly the values the other replicas receive.
 */
public enum GradientCodec {
    /** FP32: exact. */
    FP32(4) {
        @Override
        void encode(float[] src, int off, int len, int k, ByteBuffer dst) {
            dst.asFloatBuffer().put(src, off, len);
            dst.position(dst.position() + 4 * len);
        }

        @Override
        void decode(ByteBuffer src, int len, int k, float[] dst, int off) {
            src.asFloatBuffer().get(dst, off, len);
            src.position(src.position() + 4 * len);
        }
    },
    /** bfloat16 with round-to-nearest-even. */
    BF16(2) {
        @Override
        void encode(float[] src, int off, int len, int k, ByteBuffer dst) {
            for (int i = 0; i < len; i++) {
                dst.putShort((short) dev.fp4.core.format.BF16.encode(src[off + i]));
            }
        }

        @Override
        void decode(ByteBuffer src, int len, int k, float[] dst, int off) {
            for (int i = 0; i < len; i++) {
                dst[off + i] = Float.intBitsToFloat((src.getShort() & 0xFFFF) << 16);
            }
        }
    },
    /** E4M3 with a power-of-two scale per message. */
    FP8(1) {
        @Override
        int scaleExponent(float[] src, int off, int len) {
            float amax = 0;
            for (int i = 0; i < len; i++) {
                float a = Math.abs(src[off + i]);
                if (a > amax && a != Float.POSITIVE_INFINITY) { // NaN compares false
                    amax = a;
                }
            }
            if (amax == 0) {
                return 0;
            }
            int k = Math.clamp(Math.getExponent(E4M3.MAX / amax), -126, 127);
            while (k > -126 && amax * Math.scalb(1f, k) > E4M3.MAX) {
                k--;                         // the quotient was rounded up across a power of two
            }
            return k;
        }

        @Override
        void encode(float[] src, int off, int len, int k, ByteBuffer dst) {
            float s = Math.scalb(1f, k);
            for (int i = 0; i < len; i++) {
                dst.put((byte) E4M3Codes.encode(src[off + i] * s));
            }
        }

        @Override
        void decode(ByteBuffer src, int len, int k, float[] dst, int off) {
            float inv = Math.scalb(1f, -k);              // exact: the product has at most 4 significant bits
            for (int i = 0; i < len; i++) {
                dst[off + i] = E4M3Codes.decode(src.get() & 0xFF) * inv;
            }
            if (k <= SATURATING_K) {
                saturate(dst, off, len);
            }
        }
    };

    /**
     * At k ≤ −120 (amax within a factor 2 of FP32's largest value) a value that E4M3 rounds up
     * to the next power of two decodes beyond FP32's range: it is kept at ±{@link Float#MAX_VALUE}
     * instead of becoming ±∞, so a finite gradient stays finite.
     */
    private static final int SATURATING_K = -120;

    private static void saturate(float[] x, int off, int len) {
        for (int i = off; i < off + len; i++) {
            if (Float.isInfinite(x[i])) {
                x[i] = Math.copySign(Float.MAX_VALUE, x[i]);
            }
        }
    }

    private final int bytes;

    GradientCodec(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per value on the wire. */
    public int bytesPerValue() {
        return bytes;
    }

    /**
     * The codec of a {@code --grad-comm} name: fp32, bf16 or fp8 (any case).
     *
     * @throws IllegalArgumentException naming the valid values
     */
    public static GradientCodec of(String name) {
        for (GradientCodec c : values()) {
            if (c.name().equalsIgnoreCase(name)) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown gradient codec '" + name + "'; valid: fp32, bf16, fp8");
    }

    /** The lower-case name, as on the command line. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The scale exponent k of one message over src[off, off + len) (0 for codecs without a scale). */
    int scaleExponent(float[] src, int off, int len) {
        return 0;
    }

    /** Writes src[off, off + len) with scale exponent k at dst's position, advancing it. */
    abstract void encode(float[] src, int off, int len, int k, ByteBuffer dst);

    /** Reads len values with scale exponent k from src's position into dst[off, …), advancing src. */
    abstract void decode(ByteBuffer src, int len, int k, float[] dst, int off);

    /**
     * Replaces x[off, off + len) by decode(encode(x)) with scale exponent k: what a receiver of
     * that message holds (a no-op for FP32).
     */
    void roundTrip(float[] x, int off, int len, int k) {
        switch (this) {
            case FP32 -> {
            }
            case BF16 -> {
                for (int i = off; i < off + len; i++) {
                    x[i] = dev.fp4.core.format.BF16.round(x[i]);
                }
            }
            case FP8 -> {
                float s = Math.scalb(1f, k);
                float inv = Math.scalb(1f, -k);
                for (int i = off; i < off + len; i++) {
                    x[i] = E4M3Codes.decode(E4M3Codes.encode(x[i] * s)) * inv;
                }
                if (k <= SATURATING_K) {
                    saturate(x, off, len);
                }
            }
        }
    }
}
