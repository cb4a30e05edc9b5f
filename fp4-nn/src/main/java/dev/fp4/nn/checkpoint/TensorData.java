package dev.fp4.nn.checkpoint;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor as safetensors stores it: an element type, a shape and the raw little-endian bytes.
 * Immutable: factories and accessors copy.
 */
public final class TensorData {
    private final DType dtype;
    private final long[] shape;
    private final byte[] data;

    /**
     * @param dtype element type
     * @param shape dimensions (may be empty for a scalar); every dimension non-negative
     * @param data  raw little-endian bytes, exactly {@code product(shape) * dtype.bytes()} of them
     * @throws IllegalArgumentException when the byte count does not match the shape
     */
    public TensorData(DType dtype, long[] shape, byte[] data) {
        this(dtype, shape.clone(), data.clone(), true);
    }

    private TensorData(DType dtype, long[] shape, byte[] data, boolean owned) {
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape;
        this.data = data;
        long n = elementCount(shape);
        if (n * dtype.bytes() != data.length) {
            throw new IllegalArgumentException("tensor of " + dtype + Arrays.toString(shape) + " needs "
                    + n * dtype.bytes() + " bytes, got " + data.length);
        }
    }

    /**
     * Number of elements of a shape.
     *
     * @throws IllegalArgumentException on a negative dimension or an element count beyond 2^31
     */
    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n *= d;
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has more than 2^31 elements");
            }
        }
        return n;
    }

    private static long[] toLong(int[] shape) {
        long[] s = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            s[i] = shape[i];
        }
        return s;
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** An F32 tensor holding {@code values[off, off + product(shape))}. */
    public static TensorData ofFloatRange(float[] values, int off, int... shape) {
        long[] s = toLong(shape);
        int n = (int) elementCount(s);
        Objects.checkFromIndexSize(off, n, values.length);
        byte[] b = new byte[n * 4];
        le(b).asFloatBuffer().put(values, off, n);
        return new TensorData(DType.F32, s, b, true);
    }

    /** An F32 tensor of all of {@code values} with the given shape. */
    public static TensorData ofFloats(float[] values, int... shape) {
        return ofFloatRange(values, 0, shape);
    }

    /** A 16-bit tensor ({@link DType#F16} or {@link DType#BF16}) from raw bit patterns. */
    public static TensorData ofShortBits(DType dtype, short[] bits, int... shape) {
        if (dtype.bytes() != 2) {
            throw new IllegalArgumentException("ofShortBits needs a 16-bit dtype, got " + dtype);
        }
        long[] s = toLong(shape);
        if (elementCount(s) != bits.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + bits.length + " elements");
        }
        byte[] b = new byte[bits.length * 2];
        le(b).asShortBuffer().put(bits);
        return new TensorData(dtype, s, b, true);
    }

    /** A {@link DType#U8} tensor (bytes copied). */
    public static TensorData ofBytes(byte[] bytes, int... shape) {
        return new TensorData(DType.U8, toLong(shape), bytes.clone(), true);
    }

    /** An {@link DType#I64} tensor. */
    public static TensorData ofLongs(long[] values, int... shape) {
        long[] s = toLong(shape);
        if (elementCount(s) != values.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + values.length + " elements");
        }
        byte[] b = new byte[values.length * 8];
        le(b).asLongBuffer().put(values);
        return new TensorData(DType.I64, s, b, true);
    }

    /** A one-element {@link DType#I64} tensor of shape [1]. */
    public static TensorData ofLong(long value) {
        return ofLongs(new long[] {value}, 1);
    }

    /** Wraps bytes read from a file without copying (package use only). */
    static TensorData wrap(DType dtype, long[] shape, byte[] data) {
        return new TensorData(dtype, shape, data, true);
    }

    /** The element type. */
    public DType dtype() {
        return dtype;
    }

    /** The shape (a copy). */
    public long[] shape() {
        return shape.clone();
    }

    /** The shape as ints (a copy). */
    public int[] intShape() {
        int[] s = new int[shape.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = (int) shape[i];
        }
        return s;
    }

    /** Number of elements. */
    public int size() {
        return (int) elementCount(shape);
    }

    /** Number of data bytes. */
    public int byteSize() {
        return data.length;
    }

    /** The raw little-endian bytes (a copy). */
    public byte[] bytes() {
        return data.clone();
    }

    /** Raw bytes without copying (package use only: writers). */
    byte[] rawBytes() {
        return data;
    }

    private void require(DType expected) {
        if (dtype != expected) {
            throw new IllegalStateException("tensor is " + dtype + ", not " + expected);
        }
    }

    /** The values of an F32 tensor. */
    public float[] toFloats() {
        require(DType.F32);
        float[] v = new float[size()];
        le(data).asFloatBuffer().get(v);
        return v;
    }

    /** Copies the values of an F32 tensor into {@code dst[off, off + size())}. */
    public void copyFloatsTo(float[] dst, int off) {
        require(DType.F32);
        Objects.checkFromIndexSize(off, size(), dst.length);
        le(data).asFloatBuffer().get(dst, off, size());
    }

    /** The bit patterns of an F16 or BF16 tensor. */
    public short[] toShortBits() {
        if (dtype.bytes() != 2) {
            throw new IllegalStateException("tensor is " + dtype + ", not a 16-bit type");
        }
        short[] v = new short[size()];
        le(data).asShortBuffer().get(v);
        return v;
    }

    /** The values of an I64 tensor. */
    public long[] toLongs() {
        require(DType.I64);
        long[] v = new long[size()];
        le(data).asLongBuffer().get(v);
        return v;
    }

    /** True when dtype, shape and bytes are all equal. */
    @Override
    public boolean equals(Object o) {
        return o instanceof TensorData t && dtype == t.dtype && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(dtype, Arrays.hashCode(shape), Arrays.hashCode(data));
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape);
    }
}
