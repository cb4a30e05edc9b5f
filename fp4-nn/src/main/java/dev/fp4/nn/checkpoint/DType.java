package dev.fp4.nn.checkpoint;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Element types of a safetensors file, named exactly as the format's {@code dtype} field spells
 * them. All multi-byte types are stored little-endian.
 */
public enum DType {
    /** IEEE binary32. */
    F32(4),
    /** IEEE binary16 (half). */
    F16(2),
    /** bfloat16: the upper 16 bits of a binary32. */
    BF16(2),
    /** Unsigned byte; FP4 tensors are stored as these, two E2M1 codes per byte. */
    U8(1),
    /** Signed byte. */
    I8(1),
    /** Signed 32-bit integer. */
    I32(4),
    /** Signed 64-bit integer (steps, seeds, stream positions). */
    I64(8),
    /** IEEE binary64. */
    F64(8);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /**
     * The type named {@code name} in a safetensors header.
     *
     * @throws IllegalArgumentException for a name this reader does not support, listing those it does
     */
    public static DType parse(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unsupported dtype \"" + name + "\"; supported: "
                + Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", ")));
    }
}
