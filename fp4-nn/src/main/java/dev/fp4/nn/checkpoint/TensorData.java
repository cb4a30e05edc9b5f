package dev.fp4.nn.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor as safetensors stores it: an element type, a shape and its little-endian bytes.
 * The bytes come from one of three places, and all sizes are {@code long}, so a tensor may hold
 * more than 2 GiB:
 * <ul>
 * <li>a copy ({@link #ofFloats}, {@link #ofShortBits}, {@link #ofBytes}, {@link #ofLongs},
 * {@link #ofLong}): immutable;</li>
 * <li>a view of a live array ({@link #viewOfFloats}, {@link #viewOfShortBits},
 * {@link #viewOfBytes}): no copy; it reads the array when written, so the array must not change
 * until then (how checkpoints capture a model without a second copy of it);</li>
 * <li>a region of a file, as {@link SafeTensors#read} returns them: read on demand, straight into
 * the caller's array ({@link #copyFloatsTo}).</li>
 * </ul>
 * Bytes move in chunks through {@link #copyBytes}, so no step needs the whole tensor as one byte
 * array.
 */
public final class TensorData {
    private final DType dtype;
    private final long[] shape;
    private final long byteSize;
    private final Source source;

    /** Where the bytes are: fills {@code dst} with bytes [at, at + dst.remaining()). */
    private interface Source {
        void copy(long at, ByteBuffer dst) throws IOException;
    }

    /**
     * @param dtype element type
     * @param shape dimensions (may be empty for a scalar); every dimension non-negative
     * @param data  raw little-endian bytes, exactly {@code product(shape) * dtype.bytes()} of them
     *              (copied)
     * @throws IllegalArgumentException when the byte count does not match the shape
     */
    public TensorData(DType dtype, long[] shape, byte[] data) {
        this(dtype, shape.clone(), data.length, bytesSource(data.clone()));
    }

    private TensorData(DType dtype, long[] shape, long byteSize, Source source) {
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape;
        this.byteSize = byteSize;
        this.source = source;
        long n = elementCount(shape);
        if (n * dtype.bytes() != byteSize) {
            throw new IllegalArgumentException("tensor of " + dtype + Arrays.toString(shape) + " needs "
                    + n * dtype.bytes() + " bytes, got " + byteSize);
        }
    }

    /**
     * Number of elements of a shape.
     *
     * @throws IllegalArgumentException on a negative dimension or an element count beyond 2^31 − 1
     *                                  (the largest Java array)
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

    private static Source bytesSource(byte[] b) {
        return (at, dst) -> dst.put(b, (int) at, dst.remaining());
    }

    private static Source floatSource(float[] v, int off) {
        return (at, dst) -> {
            int n = dst.remaining() / 4;
            dst.asFloatBuffer().put(v, off + (int) (at / 4), n);
            dst.position(dst.position() + 4 * n);
        };
    }

    private static Source shortSource(short[] v, int off) {
        return (at, dst) -> {
            int n = dst.remaining() / 2;
            dst.asShortBuffer().put(v, off + (int) (at / 2), n);
            dst.position(dst.position() + 2 * n);
        };
    }

    private static Source longSource(long[] v) {
        return (at, dst) -> {
            int n = dst.remaining() / 8;
            dst.asLongBuffer().put(v, (int) (at / 8), n);
            dst.position(dst.position() + 8 * n);
        };
    }

    /** An F32 tensor holding a copy of {@code values[off, off + product(shape))}. */
    public static TensorData ofFloatRange(float[] values, int off, int... shape) {
        long[] s = toLong(shape);
        int n = (int) elementCount(s);
        Objects.checkFromIndexSize(off, n, values.length);
        return new TensorData(DType.F32, s, 4L * n, floatSource(Arrays.copyOfRange(values, off, off + n), 0));
    }

    /** An F32 tensor of a copy of all of {@code values} with the given shape. */
    public static TensorData ofFloats(float[] values, int... shape) {
        return ofFloatRange(values, 0, shape);
    }

    /**
     * An F32 tensor that reads {@code values[off, off + product(shape))} when written (no copy:
     * the values must not change until then).
     */
    public static TensorData viewOfFloats(float[] values, int off, int... shape) {
        long[] s = toLong(shape);
        int n = (int) elementCount(s);
        Objects.checkFromIndexSize(off, n, values.length);
        return new TensorData(DType.F32, s, 4L * n, floatSource(values, off));
    }

    /** A 16-bit tensor ({@link DType#F16} or {@link DType#BF16}) from a copy of raw bit patterns. */
    public static TensorData ofShortBits(DType dtype, short[] bits, int... shape) {
        return viewOfShortBits(dtype, bits.clone(), shape);
    }

    /** As {@link #ofShortBits} without copying (the bits must not change until written). */
    public static TensorData viewOfShortBits(DType dtype, short[] bits, int... shape) {
        if (dtype.bytes() != 2) {
            throw new IllegalArgumentException("ofShortBits needs a 16-bit dtype, got " + dtype);
        }
        long[] s = toLong(shape);
        if (elementCount(s) != bits.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + bits.length + " elements");
        }
        return new TensorData(dtype, s, 2L * bits.length, shortSource(bits, 0));
    }

    /** A {@link DType#U8} tensor (bytes copied). */
    public static TensorData ofBytes(byte[] bytes, int... shape) {
        return new TensorData(DType.U8, toLong(shape), bytes.length, bytesSource(bytes.clone()));
    }

    /** As {@link #ofBytes} without copying (the bytes must not change until written). */
    public static TensorData viewOfBytes(byte[] bytes, int... shape) {
        return new TensorData(DType.U8, toLong(shape), bytes.length, bytesSource(bytes));
    }

    /** An {@link DType#I64} tensor. */
    public static TensorData ofLongs(long[] values, int... shape) {
        long[] s = toLong(shape);
        if (elementCount(s) != values.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + values.length + " elements");
        }
        return new TensorData(DType.I64, s, 8L * values.length, longSource(values.clone()));
    }

    /** A one-element {@link DType#I64} tensor of shape [1]. */
    public static TensorData ofLong(long value) {
        return ofLongs(new long[] {value}, 1);
    }

    /** The bytes [position, position + size) of {@code file}, read when needed (package use: readers). */
    static TensorData inFile(DType dtype, long[] shape, Path file, long position, long size) {
        return new TensorData(dtype, shape, size, (at, dst) -> {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long p = position + at;
                while (dst.hasRemaining()) {
                    if (ch.read(dst, p) < 0) {
                        throw new CheckpointFormatException(file, "truncated: unexpected end of file at byte " + p);
                    }
                    p = position + at + dst.position();
                }
            }
        });
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

    /** Number of data bytes (may exceed 2^31). */
    public long byteSize() {
        return byteSize;
    }

    /**
     * Puts bytes [at, at + dst.remaining()) of this tensor into {@code dst} (little-endian byte
     * order is set on it); {@code at} and the length must be multiples of the element size.
     *
     * @throws IOException when a file-backed tensor cannot be read
     */
    public void copyBytes(long at, ByteBuffer dst) throws IOException {
        int n = dst.remaining();
        if (at < 0 || at + n > byteSize || at % dtype.bytes() != 0 || n % dtype.bytes() != 0) {
            throw new IndexOutOfBoundsException("bytes [" + at + ", " + (at + n) + ") of a tensor of " + byteSize + " bytes ("
                    + dtype + ")");
        }
        ByteBuffer slice = dst.slice().order(ByteOrder.LITTLE_ENDIAN);
        source.copy(at, slice);
        dst.position(dst.position() + n);
    }

    /** Bytes per chunk when a tensor is streamed (a multiple of every element size). */
    static final int CHUNK = 1 << 20;

    /** The raw little-endian bytes (a copy; at most 2^31 − 9 of them). */
    public byte[] bytes() {
        if (byteSize > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + byteSize + " bytes does not fit in one byte array: use copyBytes");
        }
        byte[] out = new byte[(int) byteSize];
        uncheckedCopy(0, ByteBuffer.wrap(out));
        return out;
    }

    private void uncheckedCopy(long at, ByteBuffer dst) {
        try {
            copyBytes(at, dst);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
        copyFloatsTo(v, 0);
        return v;
    }

    /**
     * Copies the values of an F32 tensor into {@code dst[off, off + size())}, in chunks (a
     * file-backed tensor is read straight into {@code dst}).
     *
     * @throws UncheckedIOException when a file-backed tensor cannot be read
     */
    public void copyFloatsTo(float[] dst, int off) {
        require(DType.F32);
        int n = size();
        Objects.checkFromIndexSize(off, n, dst.length);
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(CHUNK, byteSize)).order(ByteOrder.LITTLE_ENDIAN);
        for (long at = 0; at < byteSize; at += buf.capacity()) {
            buf.clear().limit((int) Math.min(buf.capacity(), byteSize - at));
            uncheckedCopy(at, buf);
            buf.flip();
            buf.asFloatBuffer().get(dst, off + (int) (at / 4), buf.remaining() / 4);
        }
    }

    /** The bit patterns of an F16 or BF16 tensor. */
    public short[] toShortBits() {
        if (dtype.bytes() != 2) {
            throw new IllegalStateException("tensor is " + dtype + ", not a 16-bit type");
        }
        short[] v = new short[size()];
        ByteBuffer.wrap(bytes()).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().get(v);
        return v;
    }

    /** The values of an I64 tensor. */
    public long[] toLongs() {
        require(DType.I64);
        long[] v = new long[size()];
        ByteBuffer.wrap(bytes()).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(v);
        return v;
    }

    /** True when dtype, shape and bytes are all equal (compared chunk by chunk). */
    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TensorData t) || dtype != t.dtype || !Arrays.equals(shape, t.shape)) {
            return false;
        }
        ByteBuffer a = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(byteSize, 8)));
        ByteBuffer b = ByteBuffer.allocate(a.capacity());
        for (long at = 0; at < byteSize; at += a.capacity()) {
            int n = (int) Math.min(a.capacity(), byteSize - at);
            a.clear().limit(n);
            b.clear().limit(n);
            uncheckedCopy(at, a);
            t.uncheckedCopy(at, b);
            if (!a.flip().equals(b.flip())) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        return Objects.hash(dtype, Arrays.hashCode(shape), byteSize);
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape);
    }
}
