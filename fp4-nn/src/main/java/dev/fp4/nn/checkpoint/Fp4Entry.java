package dev.fp4.nn.checkpoint;

import dev.fp4.core.format.E2M1;
import dev.fp4.core.quant.Fp4Tensor;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An FP4 (E2M1) tensor as it is stored in safetensors, which has no 4-bit type: under its name a
 * U8 tensor of packed codes (two per byte, flat row-major, element 0 in the low nibble — PyTorch's
 * {@code float4_e2m1fn_x2} layout; shape [rows, cols/2] for even cols, else [⌈rows·cols/2⌉]),
 * under {@code name + ".scales"} the block scales as F32 [scaleRows, scaleCols], under
 * {@code name + ".tensor_scale"} an F32 [1], and the metadata entry {@code "fp4.quant." + name} =
 * {@code "e2m1;scheme=<scheme>;shape=<rows>x<cols>;block=<blockRows>x<blockCols>"}. Element (r, c)
 * belongs to scale block (r / blockRows, c / blockCols) and dequantizes to
 * (decode(code) · scale) · tensorScale, the order {@link Fp4Tensor#dequantize()} uses, so an entry
 * made by {@link #of(Fp4Tensor)} dequantizes to the same floats bit for bit. A reader without this
 * library needs only the E2M1 value table (docs/training.md has a NumPy reader).
 *
 * @param rows        logical rows
 * @param cols        logical columns
 * @param packed      ⌈rows·cols/2⌉ bytes of codes
 * @param scales      block scales, row-major over blocks
 * @param scaleRows   rows of the block-scale grid
 * @param scaleCols   columns of the block-scale grid
 * @param tensorScale the per-tensor scale (1 for schemes without one)
 * @param scheme      the scheme's name (e.g. {@code nvfp4}), free text without ';'
 * @param blockRows   rows per scale block (the last block row may be shorter)
 * @param blockCols   columns per scale block (the last block column may be shorter)
 */
public record Fp4Entry(int rows, int cols, byte[] packed, float[] scales, int scaleRows, int scaleCols, float tensorScale,
                       String scheme, int blockRows, int blockCols) {
    private static final Pattern FORMAT = Pattern.compile("e2m1;scheme=([^;]+);shape=(\\d+)x(\\d+);block=(\\d+)x(\\d+)");

    /** Validates sizes. */
    public Fp4Entry {
        Objects.requireNonNull(scheme, "scheme");
        if (rows <= 0 || cols <= 0 || scaleRows <= 0 || scaleCols <= 0) {
            throw new IllegalArgumentException("dimensions must be positive: " + rows + "x" + cols + ", scales " + scaleRows + "x" + scaleCols);
        }
        long n = (long) rows * cols;
        if (packed.length != (n + 1) / 2) {
            throw new IllegalArgumentException("a " + rows + "x" + cols + " FP4 tensor packs into " + (n + 1) / 2 + " bytes, got " + packed.length);
        }
        if (scales.length != scaleRows * scaleCols) {
            throw new IllegalArgumentException("scale grid " + scaleRows + "x" + scaleCols + " needs " + scaleRows * scaleCols
                    + " scales, got " + scales.length);
        }
        if (scheme.isEmpty() || scheme.indexOf(';') >= 0) {
            throw new IllegalArgumentException("scheme name must be non-empty without ';': \"" + scheme + "\"");
        }
        if (blockRows <= 0 || blockCols <= 0 || ceilDiv(rows, blockRows) != scaleRows || ceilDiv(cols, blockCols) != scaleCols) {
            throw new IllegalArgumentException("blocks of " + blockRows + "x" + blockCols + " over " + rows + "x" + cols
                    + " do not make a scale grid of " + scaleRows + "x" + scaleCols);
        }
        packed = packed.clone();
        scales = scales.clone();
    }

    /** The tensor's codes, scales and block geometry (copied), named by its scheme. */
    public static Fp4Entry of(Fp4Tensor t) {
        int br = t.scheme().blockRows() == 0 ? t.rows() : t.scheme().blockRows();
        int bc = t.scheme().blockCols() == 0 ? t.cols() : t.scheme().blockCols();
        return new Fp4Entry(t.rows(), t.cols(), t.packed(), t.scales(), t.scaleRows(), t.scaleCols(), t.tensorScale(),
                t.scheme().name(), br, bc);
    }

    /** The dequantized values, row-major [rows, cols]: (decode(code) · scale) · tensorScale. */
    public float[] dequantize() {
        float[] out = new float[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++) {
            int sRow = (r / blockRows) * scaleCols;
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = E2M1.decode(code(r, c)) * scales[sRow + c / blockCols] * tensorScale;
            }
        }
        return out;
    }

    private static int ceilDiv(int a, int b) {
        return (int) (((long) a + b - 1) / b);
    }

    /** The packed codes (a copy). */
    @Override
    public byte[] packed() {
        return packed.clone();
    }

    /** The block scales (a copy). */
    @Override
    public float[] scales() {
        return scales.clone();
    }

    /** The 4-bit code of element (r, c). */
    public int code(int r, int c) {
        long i = (long) r * cols + c;
        int b = packed[(int) (i >>> 1)] & 0xff;
        return (i & 1) == 0 ? b & 0xf : b >>> 4;
    }

    /** Adds this entry's three tensors and its metadata line under {@code name}. */
    public void putInto(Map<String, TensorData> tensors, Map<String, String> metadata, String name) {
        long n = (long) rows * cols;
        tensors.put(name, cols % 2 == 0 ? TensorData.ofBytes(packed, rows, cols / 2) : TensorData.ofBytes(packed, (int) ((n + 1) / 2)));
        tensors.put(name + ".scales", TensorData.ofFloats(scales, scaleRows, scaleCols));
        tensors.put(name + ".tensor_scale", TensorData.ofFloats(new float[] {tensorScale}, 1));
        metadata.put("fp4.quant." + name, "e2m1;scheme=" + scheme + ";shape=" + rows + "x" + cols + ";block=" + blockRows + "x" + blockCols);
    }

    /**
     * Reads the entry stored under {@code name}.
     *
     * @throws IllegalArgumentException when the metadata line or a tensor is missing or inconsistent
     */
    public static Fp4Entry from(SafeTensorsFile f, String name) {
        String fmt = f.metadata().get("fp4.quant." + name);
        if (fmt == null) {
            throw new IllegalArgumentException("no FP4 tensor \"" + name + "\" (metadata fp4.quant." + name + " missing)");
        }
        Matcher m = FORMAT.matcher(fmt);
        if (!m.matches()) {
            throw new IllegalArgumentException("FP4 tensor \"" + name + "\": malformed format \"" + fmt + "\"");
        }
        TensorData codes = f.tensors().get(name);
        TensorData scales = f.tensors().get(name + ".scales");
        TensorData ts = f.tensors().get(name + ".tensor_scale");
        if (codes == null || codes.dtype() != DType.U8 || scales == null || scales.dtype() != DType.F32 || scales.shape().length != 2
                || ts == null || ts.dtype() != DType.F32 || ts.size() != 1) {
            throw new IllegalArgumentException("FP4 tensor \"" + name + "\": expected U8 codes, F32 [r, c] scales and F32 [1] tensor_scale, got "
                    + codes + ", " + scales + ", " + ts);
        }
        int[] ss = scales.intShape();
        try {
            return new Fp4Entry(Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)), codes.bytes(), scales.toFloats(),
                    ss[0], ss[1], ts.toFloats()[0], m.group(1), Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("FP4 tensor \"" + name + "\": shape out of range in \"" + fmt + "\"", e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("FP4 tensor \"" + name + "\": " + e.getMessage(), e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Fp4Entry e && rows == e.rows && cols == e.cols && Arrays.equals(packed, e.packed)
                && Arrays.equals(scales, e.scales) && scaleRows == e.scaleRows && scaleCols == e.scaleCols
                && Float.floatToIntBits(tensorScale) == Float.floatToIntBits(e.tensorScale) && scheme.equals(e.scheme)
                && blockRows == e.blockRows && blockCols == e.blockCols;
    }

    @Override
    public int hashCode() {
        return Objects.hash(rows, cols, Arrays.hashCode(packed), Arrays.hashCode(scales), scaleRows, scaleCols, tensorScale, scheme, blockRows, blockCols);
    }

    @Override
    public String toString() {
        return "Fp4Entry[" + rows + "x" + cols + ", " + scheme + ", blocks " + blockRows + "x" + blockCols + ", scales "
                + scaleRows + "x" + scaleCols + "]";
    }
}
