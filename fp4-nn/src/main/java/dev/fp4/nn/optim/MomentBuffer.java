package dev.fp4.nn.optim;

import dev.fp4.nn.checkpoint.DType;
import dev.fp4.nn.checkpoint.TensorData;
import java.util.Map;

/**
 * The stored state of one moment of one parameter tensor in a {@link MomentPrecision.Format}.
 * {@link #decode} expands it to FP32, {@link #encode} rounds FP32 values into it (choosing a new
 * scale for the scaled formats).
 */
abstract sealed class MomentBuffer {
    final int n;

    MomentBuffer(int n) {
        this.n = n;
    }

    static MomentBuffer create(MomentPrecision.Format format, int n) {
        return switch (format) {
            case FP32 -> new Fp32(n);
            case BF16 -> new Bf16(n);
            case FP16_SCALED -> new Fp16Scaled(n);
            case E4M3_SCALED -> new E4m3Scaled(n);
        };
    }

    /** Writes the FP32 values of the stored moment to dst[0, n). */
    abstract void decode(float[] dst);

    /** Rounds src[0, n) (all finite) into storage. */
    abstract void encode(float[] src);

    /**
     * Adds this moment's tensors under {@code prefix} (shape = the parameter's): copies, or views of
     * the live arrays when {@code view}.
     */
    abstract void exportTo(Map<String, TensorData> out, String prefix, int[] shape, boolean view);

    /** Restores from tensors written by {@link #exportTo}; throws naming the first missing or mismatched tensor. */
    abstract void importFrom(Map<String, TensorData> in, String prefix);

    static TensorData get(Map<String, TensorData> in, String key, DType dtype, int n) {
        TensorData t = in.get(key);
        if (t == null) {
            throw new IllegalArgumentException("optimizer state: missing tensor \"" + key + "\"");
        }
        if (t.dtype() != dtype || t.size() != n) {
            throw new IllegalArgumentException("optimizer state: tensor \"" + key + "\" is " + t
                    + ", expected " + dtype + " with " + n + " elements");
        }
        return t;
    }

    static float amax(float[] src, int n) {
        float a = 0f;
        for (int i = 0; i < n; i++) {
            a = Math.max(a, Math.abs(src[i]));
        }
        return a;
    }

    static final class Fp32 extends MomentBuffer {
        final float[] v;

        Fp32(int n) {
            super(n);
            v = new float[n];
        }

        @Override
        void decode(float[] dst) {
            System.arraycopy(v, 0, dst, 0, n);
        }

        @Override
        void encode(float[] src) {
            System.arraycopy(src, 0, v, 0, n);
        }

        @Override
        void exportTo(Map<String, TensorData> out, String prefix, int[] shape, boolean view) {
            out.put(prefix, view ? TensorData.viewOfFloats(v, 0, shape) : TensorData.ofFloats(v, shape));
        }

        @Override
        void importFrom(Map<String, TensorData> in, String prefix) {
            get(in, prefix, DType.F32, n).copyFloatsTo(v, 0);
        }
    }

    static final class Bf16 extends MomentBuffer {
        final short[] bits;

        Bf16(int n) {
            super(n);
            bits = new short[n];
        }

        @Override
        void decode(float[] dst) {
            for (int i = 0; i < n; i++) {
                dst[i] = LowPrecision.fromBf16(bits[i]);
            }
        }

        @Override
        void encode(float[] src) {
            for (int i = 0; i < n; i++) {
                bits[i] = LowPrecision.toBf16(src[i]);
            }
        }

        @Override
        void exportTo(Map<String, TensorData> out, String prefix, int[] shape, boolean view) {
            out.put(prefix, view ? TensorData.viewOfShortBits(DType.BF16, bits, shape) : TensorData.ofShortBits(DType.BF16, bits, shape));
        }

        @Override
        void importFrom(Map<String, TensorData> in, String prefix) {
            System.arraycopy(get(in, prefix, DType.BF16, n).toShortBits(), 0, bits, 0, n);
        }
    }

    /** Scaled formats store a scale tensor of shape [1] beside the codes. */
    abstract static sealed class Scaled extends MomentBuffer {
        float scale = 1f;

        Scaled(int n) {
            super(n);
        }

        void exportScale(Map<String, TensorData> out, String prefix) {
            out.put(prefix + ".scale", TensorData.ofFloats(new float[] {scale}, 1));
        }

        void importScale(Map<String, TensorData> in, String prefix) {
            float s = get(in, prefix + ".scale", DType.F32, 1).toFloats()[0];
            if (!(s > 0f) || !Float.isFinite(s) || s != Math.scalb(1f, Math.getExponent(s))) {
                throw new IllegalArgumentException("optimizer state: \"" + prefix + ".scale\" = " + s
                        + " is not a positive finite power of two");
            }
            scale = s;
        }
    }

    static final class Fp16Scaled extends Scaled {
        final short[] bits;

        Fp16Scaled(int n) {
            super(n);
            bits = new short[n];
        }

        @Override
        void decode(float[] dst) {
            float inv = 1f / scale;                              // exact: scale is a power of two
            for (int i = 0; i < n; i++) {
                dst[i] = LowPrecision.fromFp16(bits[i]) * inv;
            }
        }

        @Override
        void encode(float[] src) {
            scale = LowPrecision.powerOfTwoScale(amax(src, n), LowPrecision.FP16_MAX);
            for (int i = 0; i < n; i++) {
                bits[i] = LowPrecision.toFp16(src[i] * scale);
            }
        }

        @Override
        void exportTo(Map<String, TensorData> out, String prefix, int[] shape, boolean view) {
            out.put(prefix, view ? TensorData.viewOfShortBits(DType.F16, bits, shape) : TensorData.ofShortBits(DType.F16, bits, shape));
            exportScale(out, prefix);
        }

        @Override
        void importFrom(Map<String, TensorData> in, String prefix) {
            System.arraycopy(get(in, prefix, DType.F16, n).toShortBits(), 0, bits, 0, n);
            importScale(in, prefix);
        }
    }

    static final class E4m3Scaled extends Scaled {
        final byte[] codes;

        E4m3Scaled(int n) {
            super(n);
            codes = new byte[n];
        }

        @Override
        void decode(float[] dst) {
            float inv = 1f / scale;
            for (int i = 0; i < n; i++) {
                dst[i] = LowPrecision.fromE4m3(codes[i]) * inv;
            }
        }

        @Override
        void encode(float[] src) {
            scale = LowPrecision.powerOfTwoScale(amax(src, n), LowPrecision.E4M3_MAX);
            for (int i = 0; i < n; i++) {
                codes[i] = LowPrecision.toE4m3(src[i] * scale);
            }
        }

        @Override
        void exportTo(Map<String, TensorData> out, String prefix, int[] shape, boolean view) {
            out.put(prefix, view ? TensorData.viewOfBytes(codes, shape) : TensorData.ofBytes(codes, shape));
            exportScale(out, prefix);
        }

        @Override
        void importFrom(Map<String, TensorData> in, String prefix) {
            byte[] b = get(in, prefix, DType.U8, n).bytes();
            System.arraycopy(b, 0, codes, 0, n);
            importScale(in, prefix);
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + n + "]" + (this instanceof Scaled s ? " scale=" + s.scale : "");
    }
}
