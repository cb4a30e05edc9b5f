package dev.fp4.nn.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.core.quant.ScaleRule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class SafeTensorsTest {
    @TempDir
    Path dir;

    static Map<String, TensorData> sample() {
        Map<String, TensorData> t = new LinkedHashMap<>();
        t.put("w", TensorData.ofFloats(new float[] {1.5f, -0f, Float.NaN, Float.intBitsToFloat(0x7fc01234), Float.MIN_VALUE, 3e38f}, 2, 3));
        t.put("h", TensorData.ofShortBits(DType.F16, new short[] {0x3c00, (short) 0xfc00, 0x0001}, 3));
        t.put("b", TensorData.ofShortBits(DType.BF16, new short[] {0x3f80, 0x7f80}, 2, 1));
        t.put("codes", TensorData.ofBytes(new byte[] {0x10, (byte) 0x86, (byte) 0xff}, 3));
        t.put("step", TensorData.ofLong(Long.MIN_VALUE + 5));
        t.put("empty", TensorData.ofFloats(new float[0], 0, 4));
        return t;
    }

    @Test
    void roundTripIsBitExactAndLayoutIsSafetensors() throws IOException {
        Path f = dir.resolve("a.safetensors");
        Map<String, String> meta = Map.of("format", "pt", "note", "quote \" backslash \\ newline \n ünïcode 🎉");
        SafeTensors.write(f, sample(), meta);
        SafeTensorsFile r = SafeTensors.read(f);
        assertEquals(sample(), r.tensors());
        assertEquals(java.util.List.copyOf(sample().keySet()), java.util.List.copyOf(r.tensors().keySet()));
        assertEquals(meta.get("note"), r.metadata().get("note"));
        assertArrayEquals(new int[] {0x7fc01234}, new int[] {Float.floatToRawIntBits(r.tensors().get("w").toFloats()[3])});

        byte[] raw = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8, "data section 8-byte aligned");
        assertEquals('{', raw[8]);
        String header = new String(raw, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.contains("\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"), header);
        assertEquals(24 + 6 + 4 + 3 + 8 + 0, raw.length - 8 - n);
        // the first F32 is at the start of the data section, little-endian
        assertEquals(1.5f, ByteBuffer.wrap(raw, (int) (8 + n), 4).order(ByteOrder.LITTLE_ENDIAN).getFloat());
    }

    @Test
    void readsAFileWrittenByAnotherImplementation() throws IOException {
        // Exactly what safetensors' Python writer produces for {"a": tensor([1., 2.])} (no metadata):
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        Path f = file(header, floats(1f, 2f));
        SafeTensorsFile r = SafeTensors.read(f);
        assertArrayEquals(new float[] {1f, 2f}, r.tensors().get("a").toFloats());
        assertTrue(r.metadata().isEmpty());
        assertThrows(NoSuchFileException.class, () -> SafeTensors.read(dir.resolve("missing.safetensors")));
    }

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        return b.array();
    }

    private int counter;

    private Path file(String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return raw(h.length, h, data);
    }

    private Path raw(long declaredLength, byte[] h, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(h).put(data);
        Path f = dir.resolve("f" + (counter++) + ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    private static final String A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            bad JSON                  | {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}         | not valid JSON
            not an object             | [1,2]                                                          | not a JSON object
            unknown dtype             | {"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}         | unsupported dtype "F31"
            extra field               | {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}   | exactly dtype, shape and data_offsets
            shape mismatch            | {"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}         | which needs 12
            dtype mismatch            | {"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}         | which needs 16
            offsets out of range      | {"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}        | out of range
            reversed offsets          | {"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}         | out of range
            overlap                   | {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}} | (overlap)
            gap                       | {"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}         | (gap)
            trailing bytes            | {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}         | (trailing bytes)
            float in shape            | {"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}       | only non-negative integers
            negative offset           | {"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}}        | unsupported JSON value
            duplicate tensor          | {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} | duplicate key
            metadata not strings      | {"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} | value of "k" is not a string
            huge shape                | {"a":{"dtype":"F32","shape":[65536,65536],"data_offsets":[0,8]}} | more than 2^31 elements
            """)
    void corruptHeadersAreRejectedWithTheirProblem(String what, String header, String expected) throws IOException {
        Path f = file(header, floats(1f, 2f));
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> SafeTensors.read(f), what);
        assertTrue(e.getMessage().startsWith(f.toString() + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), what + ": " + e.getMessage());
    }

    @Test
    void corruptLengthsAndTruncationAreRejected() throws IOException {
        byte[] h = ("{" + A + "}").getBytes(StandardCharsets.UTF_8);
        assertProblem(raw(1L << 62, h, floats(1, 2)), "bad header length");
        assertProblem(raw(-1L, h, floats(1, 2)), "bad header length 18446744073709551615");
        assertProblem(raw(h.length + 100, h, floats(1, 2)), "reaches beyond the end of the file");
        assertProblem(raw(h.length, h, floats(1)), "out of range");               // data truncated
        Path tiny = dir.resolve("tiny");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertProblem(tiny, "truncated: 3 bytes");
        byte[] bad = h.clone();
        bad[2] = (byte) 0xC3;                                                      // lone UTF-8 lead byte
        assertProblem(raw(h.length, bad, floats(1, 2)), "not valid UTF-8");
    }

    @Test
    void checksumsCatchDataAndHeaderChanges() throws IOException {
        Path f = dir.resolve("c.safetensors");
        SafeTensors.write(f, sample(), Map.of("format", "pt"));
        byte[] raw = Files.readAllBytes(f);
        byte[] flipped = raw.clone();
        flipped[raw.length - 20] ^= 0x10;
        Path g = dir.resolve("flipped");
        Files.write(g, flipped);
        assertProblem(g, "checksum mismatch in the data section");
        String text = new String(raw, StandardCharsets.ISO_8859_1).replace("\"w\":{", "\"v\":{");
        Files.write(g, text.getBytes(StandardCharsets.ISO_8859_1));
        assertProblem(g, "checksum mismatch in the header");
        text = new String(raw, StandardCharsets.ISO_8859_1).replace("\"format\":\"pt\"", "\"format\":\"tf\"");
        Files.write(g, text.getBytes(StandardCharsets.ISO_8859_1));
        assertProblem(g, "checksum mismatch in the header");
    }

    @Test
    void fuzzEveryTruncationAndSingleBitFlipIsRejected() throws IOException {
        Map<String, TensorData> t = new LinkedHashMap<>();
        t.put("x", TensorData.ofFloats(new float[] {1, 2, 3}, 3));
        t.put("y", TensorData.ofLong(7));
        Path f = dir.resolve("z.safetensors");
        SafeTensors.write(f, t, Map.of("k", "v"));
        byte[] raw = Files.readAllBytes(f);
        Path g = dir.resolve("fuzz");
        int cases = 0;
        for (int len = 0; len < raw.length; len++) {
            Files.write(g, java.util.Arrays.copyOf(raw, len));
            assertThrows(CheckpointFormatException.class, () -> SafeTensors.read(g), "truncated to " + len);
            cases++;
        }
        for (int i = 0; i < raw.length; i++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] c = raw.clone();
                c[i] ^= (byte) (1 << bit);
                Files.write(g, c);
                assertThrows(CheckpointFormatException.class, () -> SafeTensors.read(g), "bit " + bit + " of byte " + i);
                cases++;
            }
        }
        // random multi-byte garbage in the header never escapes as anything but the documented exception
        SplittableRandom r = new SplittableRandom(3);
        for (int k = 0; k < 300; k++) {
            byte[] c = raw.clone();
            for (int j = 0; j < 4; j++) {
                c[r.nextInt(raw.length)] = (byte) r.nextInt(256);
            }
            Files.write(g, c);
            try {
                SafeTensors.read(g);
            } catch (CheckpointFormatException expected) {
                cases++;
            }
        }
        assertTrue(cases > 8 * raw.length);
    }

    private static void assertProblem(Path f, String expected) {
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> SafeTensors.read(f));
        assertTrue(e.getMessage().contains(expected) && e.getMessage().startsWith(f.toString()), e.getMessage());
    }

    @Test
    void jsonSubsetIsStrict() throws Exception {
        assertEquals(Map.of("a", java.util.List.of(1L, 20L), "b", "x\u00e9\uD83C\uDF89/"),
                Json.parse(" {\"a\" : [1, 20], \"b\": \"x\\u00e9\\ud83c\\udf89\\/\"} "));
        for (String bad : new String[] {"{\"a\":01}", "{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":true}", "{\"a\":null}",
                "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"tab\there\"}", "{} x", "{\"a\":99999999999999999999}",
                "[".repeat(40) + "]".repeat(40), "{\"a\":1,}", "{'a':1}", ""}) {
            assertThrows(Json.JsonException.class, () -> Json.parse(bad), bad);
        }
        StringBuilder b = new StringBuilder();
        Json.writeString(b, "q\"\\\n\u0001é");
        assertEquals("\"q\\\"\\\\\\n\\u0001é\"", b.toString());
        assertEquals("q\"\\\n\u0001é", Json.parse(b.toString()));
    }

    @Test
    void fp4EntriesStorePackedCodesAndScales() throws IOException {
        // [0.0, 0.5, 4.0, -0.0 | -0.0, 1.0, -6.0, 3.0] → codes [0,1,6,8 | 8,2,F,5] → 0x10 0x86 0x28 0x5F
        byte[] packed = {0x10, (byte) 0x86, 0x28, 0x5F};
        Fp4Entry e = new Fp4Entry(2, 4, packed, new float[] {0.5f, 2f}, 2, 1, 1f, "perRow", 1, 4);
        assertEquals(6, e.code(0, 2));
        assertEquals(8, e.code(0, 3));
        assertEquals(0xF, e.code(1, 2));
        Map<String, TensorData> t = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        e.putInto(t, meta, "layers.0.wq");
        assertArrayEquals(new long[] {2, 2}, t.get("layers.0.wq").shape());
        Path f = dir.resolve("q.safetensors");
        SafeTensors.write(f, t, meta);
        SafeTensorsFile r = SafeTensors.read(f);
        assertEquals(e, Fp4Entry.from(r, "layers.0.wq"));
        assertArrayEquals(new float[] {0f, 0.25f, 2f, -0f, -0f, 2f, -12f, 6f}, e.dequantize());
        assertEquals("e2m1;scheme=perRow;shape=2x4;block=1x4", r.metadata().get("fp4.quant.layers.0.wq"));
        assertThrows(IllegalArgumentException.class, () -> Fp4Entry.from(r, "nope"));
        assertThrows(IllegalArgumentException.class, () -> new Fp4Entry(2, 3, packed, new float[] {1}, 1, 1, 1f, "x", 2, 3));
        // A block geometry that does not produce the stored scale grid.
        assertThrows(IllegalArgumentException.class, () -> new Fp4Entry(2, 4, packed, new float[] {0.5f, 2f}, 2, 1, 1f, "x", 1, 2));
    }

    /** Every scheme: the stored entry dequantizes to Fp4Tensor.dequantize() bit for bit, after a file round trip. */
    @ParameterizedTest
    @MethodSource("schemes")
    void fp4EntryOfTensorRoundTripsEveryScheme(Fp4Scheme scheme) throws IOException {
        int rows = 37;
        int cols = 70; // not a multiple of 16 or 32, odd number of elements per row pair boundary
        SplittableRandom rnd = new java.util.SplittableRandom(7);
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextDouble(-3, 3)));
        }
        Fp4Tensor t = Fp4Tensor.quantize(x, rows, cols, scheme);
        Fp4Entry e = Fp4Entry.of(t);
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        e.putInto(tensors, meta, "w");
        Path f = dir.resolve("e.safetensors");
        SafeTensors.write(f, tensors, meta);
        Fp4Entry back = Fp4Entry.from(SafeTensors.read(f), "w");
        assertEquals(e, back);
        float[] want = t.dequantize();
        float[] got = back.dequantize();
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), scheme + " element " + i);
        }
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                assertEquals(t.code(r, c), back.code(r, c));
            }
        }
    }

    static java.util.List<Fp4Scheme> schemes() {
        return java.util.List.of(Fp4Scheme.perTensor(), Fp4Scheme.perRow(), Fp4Scheme.perColumn(),
                Fp4Scheme.perRow().withScaleRule(ScaleRule.EXACT), Fp4Scheme.mxfp4(), Fp4Scheme.nvfp4(), Fp4Scheme.nvfp4_2d(),
                Fp4Scheme.blocks(1, 32, ScaleRule.POWER_OF_TWO));
    }
}
