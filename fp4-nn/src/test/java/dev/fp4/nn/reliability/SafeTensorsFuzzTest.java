package dev.fp4.nn.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.CheckpointFormatException;
import dev.fp4.nn.checkpoint.Fp4Entry;
import dev.fp4.nn.checkpoint.SafeTensors;
import dev.fp4.nn.checkpoint.SafeTensorsFile;
import dev.fp4.nn.checkpoint.TensorData;
import dev.fp4.nn.optim.AdamW;
import dev.fp4.nn.optim.MomentPrecision;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzing of the safetensors reader ({@link SafeTensors#read}) and the checkpoint reader on top of it
 * ({@link Checkpoint#read}), extending the single-file fuzz of {@code SafeTensorsTest} with a real
 * checkpoint (parameters, FP8/FP16 AdamW moments, an FP4 entry, training counters):
 * <ul>
 *   <li>every truncation length; every single-bit flip of the header and of a sample of the data;
 *       random multi-byte overwrites; random structure-aware edits of the JSON header;</li>
 *   <li>hostile header lengths (0, 1, huge, negative, just beyond the file, the 100 MB cap and one
 *       more, 2^31, 2^63 − 1);</li>
 *   <li>hand-written malformed headers: deep nesting, huge and malformed numbers, duplicate keys at
 *       every level, bad and overflowing offsets and shapes, wrong types, bad UTF-8 and escapes.</li>
 * </ul>
 * The only exception allowed is {@link CheckpointFormatException}; a file that still reads must
 * read as the original (the CRC32C checksums guarantee it). Each case must allocate at most
 * {@link #ALLOCATION_CAP} bytes beyond 4 times the file size (measured with the thread's allocation
 * counter: no out-of-memory from a header that lies about sizes), and the slowest case is reported.
 */
@Timeout(300) // hang guard only (an infinite loop in the parser would otherwise stall the build)
class SafeTensorsFuzzTest {

    /** Allocation allowed per read beyond 4× the file size: parser objects, messages, exception stack. */
    static final long ALLOCATION_CAP = 8L << 20;

    @TempDir
    static Path dir;

    static byte[] original;
    static Checkpoint originalCheckpoint;
    static Map<String, TensorData> originalTensors;
    static Object threadBean;
    static java.lang.reflect.Method allocatedMethod;
    static Path file;
    static int cases;
    /** Cases per test (category), printed as FUZZ lines for docs/reliability.md. */
    static final Map<String, Integer> perCategory = new java.util.TreeMap<>();
    static String category = "";
    static long slowestNanos;
    static String slowestCase = "";
    static long largestAllocation;

    /**
     * The current thread's allocated-bytes counter of HotSpot's {@code com.sun.management.ThreadMXBean},
     * reached by reflection: the tests run on the class path, but they compile inside module dev.fp4.nn,
     * which does not read jdk.management.
     */
    static long allocatedBytes() {
        try {
            if (threadBean == null) {
                threadBean = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
                allocatedMethod = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
            }
            return (Long) allocatedMethod.invoke(threadBean);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("allocation counter unavailable", e);
        }
    }

    @BeforeAll
    static void writeCheckpoint() throws IOException {
        SplittableRandom r = new SplittableRandom(8);
        List<Parameter> params = List.of(new Parameter("tok_embeddings.weight", 8, 4), new Parameter("layers.0.attention.wq.weight", 4, 4),
                new Parameter("norm.weight", 4));
        for (Parameter p : params) {
            for (int i = 0; i < p.size(); i++) {
                p.data()[i] = (float) r.nextGaussian();
                p.grad()[i] = (float) r.nextGaussian();
            }
        }
        AdamW opt = new AdamW(params, AdamW.Settings.paper(MomentPrecision.FP8_FP16));
        opt.step(1e-3);
        Checkpoint c = Checkpoint.capture(12, 7, Map.of("train", 96L), "fp4-dge-occ", Map.of("preset", "tiny", "dim", "4"), params,
                opt.state(), Map.of("note", "fuzz"));
        file = dir.resolve("base.safetensors");
        c.write(file);
        original = Files.readAllBytes(file);
        originalCheckpoint = Checkpoint.read(file);
        originalTensors = SafeTensors.read(file).tensors();
        // a plain safetensors file with an FP4 entry, for the Fp4Entry reader
        float[] w = new float[6 * 10];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        Fp4Tensor q = Fp4Tensor.quantize(w, 6, 10, Fp4Scheme.nvfp4());
        Map<String, TensorData> t = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        Fp4Entry.of(q).putInto(t, meta, "w");
        SafeTensors.write(dir.resolve("fp4.safetensors"), t, meta);
    }

    @AfterAll
    static void report() {
        perCategory.forEach((k, v) -> System.out.println("FUZZ " + k + ": " + v + " cases"));
        System.out.printf("FUZZ %d cases, slowest %.2f ms (%s), largest allocation %d bytes for a %d-byte file%n", cases,
                slowestNanos / 1e6, slowestCase, largestAllocation, original.length);
    }

    /** Outcome of reading a mutated file: rejected with the documented exception, or identical content. */
    static void check(byte[] bytes, String what) throws IOException {
        Path g = dir.resolve("case.safetensors");
        Files.write(g, bytes);
        long alloc0 = allocatedBytes();
        long t0 = System.nanoTime();
        SafeTensorsFile read = null;
        Checkpoint ckpt = null;
        try {
            read = SafeTensors.read(g);
            ckpt = Checkpoint.read(g);
        } catch (CheckpointFormatException expected) {
            assertTrue(expected.getMessage().startsWith(g.toString() + ": "), what + ": message names the file: " + expected.getMessage());
        } catch (Throwable t) {
            throw new AssertionError(what + ": undocumented " + t, t);
        }
        long nanos = System.nanoTime() - t0;
        long alloc = allocatedBytes() - alloc0;
        cases++;
        perCategory.merge(category, 1, Integer::sum);
        if (nanos > slowestNanos) {
            slowestNanos = nanos;
            slowestCase = what;
        }
        largestAllocation = Math.max(largestAllocation, alloc);
        assertTrue(alloc <= 4L * bytes.length + ALLOCATION_CAP, what + ": allocated " + alloc + " bytes reading " + bytes.length);
        if (ckpt != null) {
            // accepted: the checksums guarantee the same meaning as the original
            assertEquals(originalCheckpoint, ckpt, what + ": accepted with other content");
            assertEquals(originalTensors, read.tensors(), what);
        }
    }

    static long headerLength() {
        return ByteBuffer.wrap(original).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    static String header() {
        return new String(original, 8, (int) headerLength(), StandardCharsets.UTF_8);
    }

    static byte[] withHeader(String json, long declaredLength) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        byte[] data = Arrays.copyOfRange(original, 8 + (int) headerLength(), original.length);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        return b.putLong(declaredLength).put(h).put(data).array();
    }

    static byte[] withHeader(String json) {
        return withHeader(json, json.getBytes(StandardCharsets.UTF_8).length);
    }

    @Test
    void everyTruncationIsRejected() throws IOException {
        category = "everyTruncationIsRejected";
        for (int len = 0; len < original.length; len++) {
            check(Arrays.copyOf(original, len), "truncated to " + len);
        }
    }

    @Test
    void bitFlipsAreRejectedOrHarmless() throws IOException {
        category = "bitFlipsAreRejectedOrHarmless";
        int headerEnd = 8 + (int) headerLength();
        for (int i = 0; i < headerEnd; i++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] c = original.clone();
                c[i] ^= (byte) (1 << bit);
                check(c, "bit " + bit + " of header byte " + i);
            }
        }
        SplittableRandom r = new SplittableRandom(21);
        for (int k = 0; k < 1500; k++) {
            byte[] c = original.clone();
            int i = headerEnd + r.nextInt(original.length - headerEnd);
            c[i] ^= (byte) (1 << r.nextInt(8));
            check(c, "data bit flip at " + i);
        }
        for (int k = 0; k < 1500; k++) {
            byte[] c = original.clone();
            int n = 1 + r.nextInt(8);
            for (int j = 0; j < n; j++) {
                c[r.nextInt(c.length)] = (byte) r.nextInt(256);
            }
            check(c, "random overwrite " + k);
        }
    }

    @Test
    void hostileHeaderLengthsAreRejectedWithoutAllocatingThem() throws IOException {
        category = "hostileHeaderLengthsAreRejectedWithoutAllocatingThem";
        long n = headerLength();
        long[] lengths = {0, 1, 2, 7, n - 1, n + 1, original.length - 8, original.length - 7, original.length, SafeTensors.MAX_HEADER_BYTES,
                SafeTensors.MAX_HEADER_BYTES + 1, Integer.MAX_VALUE, 1L << 31, 1L << 32, 1L << 62, Long.MAX_VALUE, -1, -8, Long.MIN_VALUE};
        for (long len : lengths) {
            byte[] c = original.clone();
            ByteBuffer.wrap(c).order(ByteOrder.LITTLE_ENDIAN).putLong(0, len);
            check(c, "header length " + len);
        }
        // a 100 MB header length in a file that is really that long must be read, not allocated twice over:
        // covered by the cap; a header length right at the cap in a small file is rejected by the size check.
    }

    /** The header with the data_offsets of the first tensor that does not start at 0 moved by {@code by} bytes. */
    static String shiftSomeOffsets(String h, long by) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"data_offsets\":\\[(\\d+),(\\d+)\\]").matcher(h);
        while (m.find()) {
            long begin = Long.parseLong(m.group(1));
            if (begin >= 8) {
                return h.substring(0, m.start()) + "\"data_offsets\":[" + (begin + by) + "," + (Long.parseLong(m.group(2)) + by) + "]"
                        + h.substring(m.end());
            }
        }
        throw new AssertionError("no tensor past offset 8 in " + h);
    }

    static List<String[]> malformedHeaders() {
        String h = header();
        String firstEntry = "\"layers.0.attention.wq.weight\":{\"dtype\":\"F32\",\"shape\":[4,4],\"data_offsets\":[";
        List<String[]> out = new ArrayList<>();
        out.add(new String[] {"nesting depth 17", "[".repeat(17) + "]".repeat(17)});
        out.add(new String[] {"nesting depth 100000 (no stack overflow)", "[".repeat(100_000) + "]".repeat(100_000)});
        out.add(new String[] {"unclosed nesting 1000", "{\"a\":" + "[".repeat(1000)});
        out.add(new String[] {"number 2^63", h.replaceFirst("\\[4,4\\]", "[9223372036854775808,4]")});
        out.add(new String[] {"number of 100000 digits", h.replaceFirst("\\[4,4\\]", "[" + "9".repeat(100_000) + ",4]")});
        out.add(new String[] {"negative number", h.replaceFirst("\\[4,4\\]", "[-4,4]")});
        out.add(new String[] {"fraction", h.replaceFirst("\\[4,4\\]", "[4.0,4]")});
        out.add(new String[] {"exponent", h.replaceFirst("\\[4,4\\]", "[4e0,4]")});
        out.add(new String[] {"leading zero", h.replaceFirst("\\[4,4\\]", "[04,4]")});
        out.add(new String[] {"shape product overflowing 2^63 to 1 element ([3, 3074457345618258603] F32)",
                h.replaceFirst("\\[4,4\\]", "[3,3074457345618258603]")});
        out.add(new String[] {"shape product overflowing to 16 elements ([2^62, 4, 4] plus wrap)", h.replaceFirst("\\[4,4\\]",
                "[4611686018427387905,16]")});
        out.add(new String[] {"shape [2^31, 2^31]", h.replaceFirst("\\[4,4\\]", "[2147483648,2147483648]")});
        out.add(new String[] {"shape of 65 dimensions", h.replaceFirst("\\[4,4\\]", "[" + "1,".repeat(64) + "16]")});
        out.add(new String[] {"shape not a list", h.replaceFirst("\\[4,4\\]", "16")});
        out.add(new String[] {"dtype not a string", h.replaceFirst("\"dtype\":\"F32\"", "\"dtype\":32")});
        out.add(new String[] {"dtype unknown", h.replaceFirst("\"dtype\":\"F32\"", "\"dtype\":\"F8_E4M3\"")});
        out.add(new String[] {"data_offsets of 3", h.replace(firstEntry, firstEntry + "0,")});
        out.add(new String[] {"data_offsets [2^63-1, 2^63-1]", h.replaceFirst("\"data_offsets\":\\[\\d+,\\d+\\]",
                "\"data_offsets\":[9223372036854775807,9223372036854775807]")});
        out.add(new String[] {"data_offsets end beyond the data", h.replaceFirst("\"data_offsets\":\\[(\\d+),\\d+\\]",
                "\"data_offsets\":[$1,9999999]")});
        out.add(new String[] {"data_offsets reversed", h.replaceFirst("\"data_offsets\":\\[(\\d+),(\\d+)\\]", "\"data_offsets\":[$2,$1]")});
        out.add(new String[] {"dtype F16 for the bytes of an F32 [4, 4] (size mismatch)", h.replaceFirst("\"dtype\":\"F32\"", "\"dtype\":\"F16\"")});
        out.add(new String[] {"shape [4, 5] for the 64 bytes of an F32 [4, 4]", h.replaceFirst("\\[4,4\\]", "[4,5]")});
        out.add(new String[] {"negative begin offset", h.replaceFirst("\"data_offsets\":\\[(\\d+),", "\"data_offsets\":[-8,")});
        out.add(new String[] {"offsets of one tensor shifted 8 bytes back (overlap)", shiftSomeOffsets(h, -8)});
        out.add(new String[] {"offsets of one tensor shifted 8 bytes on (gap, end beyond the data)", shiftSomeOffsets(h, 8)});
        out.add(new String[] {"not JSON at all", "this is not a safetensors header, just text padded out"});
        out.add(new String[] {"duplicate tensor key", h.replaceFirst("\\{\"__metadata__\"", "{\"norm.weight\":{\"dtype\":\"F32\",\"shape\":[4],"
                + "\"data_offsets\":[0,16]},\"__metadata__\"")});
        out.add(new String[] {"duplicate field key", h.replaceFirst("\"dtype\":\"F32\"", "\"dtype\":\"F32\",\"dtype\":\"F32\"")});
        out.add(new String[] {"duplicate metadata key", h.replaceFirst("\"format\":\"pt\"", "\"format\":\"pt\",\"format\":\"pt\"")});
        out.add(new String[] {"metadata not an object", h.replaceFirst("\"__metadata__\":\\{", "\"__metadata__\":[{").replaceFirst("\\},\"", "}],\"")});
        out.add(new String[] {"metadata value not a string", h.replaceFirst("\"format\":\"pt\"", "\"format\":7")});
        out.add(new String[] {"missing field", h.replaceFirst("\"dtype\":\"F32\",", "")});
        out.add(new String[] {"extra field", h.replaceFirst("\"dtype\":\"F32\",", "\"dtype\":\"F32\",\"extra\":[],")});
        out.add(new String[] {"true/false/null", h.replaceFirst("\"format\":\"pt\"", "\"format\":null")});
        out.add(new String[] {"invalid escape", h.replaceFirst("\"format\"", "\"form\\\\qat\"")});
        out.add(new String[] {"lone surrogate", h.replaceFirst("\"format\"", "\"\\\\ud800\"")});
        out.add(new String[] {"raw control character", h.replaceFirst("\"format\"", "\"for\tmat\"")});
        out.add(new String[] {"trailing garbage", h.substring(0, h.lastIndexOf('}') + 1) + "x"});
        out.add(new String[] {"empty header", ""});
        out.add(new String[] {"whitespace header", "        "});
        out.add(new String[] {"top-level array", "[]"});
        out.add(new String[] {"top-level string", "\"x\""});
        out.add(new String[] {"empty object (data left over)", "{}"});
        out.add(new String[] {"renamed tensor (header checksum)", h.replace("norm.weight", "norm.weighT")});
        out.add(new String[] {"changed metadata (header checksum)", h.replace("\"fp4.recipe\":\"fp4-dge-occ\"", "\"fp4.recipe\":\"fp4-dge-ocd\"")});
        out.add(new String[] {"one checksum removed", h.replaceFirst("\"fp4\\.data_crc32c\":\"[0-9a-f]{8}\",?", "")});
        return out;
    }

    @Test
    void malformedHeadersAreRejected() throws IOException {
        category = "malformedHeadersAreRejected";
        for (String[] c : malformedHeaders()) {
            check(withHeader(c[1]), c[0]);
            Path g = dir.resolve("case.safetensors");
            if (!c[0].startsWith("nesting depth 17") && !c[0].contains("empty")) {
                // every one of these must be rejected, not merely survive
                Files.write(g, withHeader(c[1]));
                try {
                    SafeTensors.read(g);
                    Checkpoint.read(g);
                    throw new AssertionError(c[0] + ": accepted");
                } catch (CheckpointFormatException expected) {
                    // the documented exception
                }
            }
        }
        check(withHeader(header().replace("\"format\"", "\"f\\u006frmat\"")), "escaped but equal key (accepted)");
    }

    /** Random edits of the JSON header that keep the declared length consistent with the text. */
    @Test
    void structureAwareMutationsOfTheHeaderAreRejectedOrHarmless() throws IOException {
        category = "structureAwareMutationsOfTheHeaderAreRejectedOrHarmless";
        String h = header();
        String alphabet = "{}[],:\"0123456789\\ -.eE\u00e9x";
        SplittableRandom r = new SplittableRandom(5);
        for (int k = 0; k < 2500; k++) {
            StringBuilder b = new StringBuilder(h);
            int edits = 1 + r.nextInt(3);
            for (int e = 0; e < edits; e++) {
                int at = r.nextInt(b.length());
                switch (r.nextInt(5)) {
                    case 0 -> b.deleteCharAt(at);
                    case 1 -> b.insert(at, alphabet.charAt(r.nextInt(alphabet.length())));
                    case 2 -> b.setCharAt(at, alphabet.charAt(r.nextInt(alphabet.length())));
                    case 3 -> {                                   // duplicate a span (repeated keys, entries)
                        int end = Math.min(b.length(), at + 1 + r.nextInt(60));
                        b.insert(end, b.substring(at, end));
                    }
                    default -> {                                  // replace a number by another
                        int d = b.indexOf(",", at);
                        if (d > 0 && d + 1 < b.length() && Character.isDigit(b.charAt(d + 1))) {
                            b.setCharAt(d + 1, (char) ('0' + r.nextInt(10)));
                        }
                    }
                }
            }
            check(withHeader(b.toString()), "header mutation " + k);
        }
    }

    @Test
    void fp4EntryReaderRejectsInconsistentEntries() throws IOException {
        category = "fp4EntryReaderRejectsInconsistentEntries";
        byte[] fp4 = Files.readAllBytes(dir.resolve("fp4.safetensors"));
        SplittableRandom r = new SplittableRandom(13);
        int rejected = 0;
        for (int k = 0; k < 400; k++) {
            byte[] c = fp4.clone();
            c[r.nextInt(c.length)] ^= (byte) (1 << r.nextInt(8));
            Path g = dir.resolve("fp4case.safetensors");
            Files.write(g, c);
            try {
                SafeTensorsFile f = SafeTensors.read(g);
                Fp4Entry.from(f, "w");
            } catch (CheckpointFormatException | IllegalArgumentException expected) {
                rejected++;
            }
            cases++;
            perCategory.merge(category, 1, Integer::sum);
        }
        assertEquals(400, rejected, "every bit flip is caught by the checksums or the entry checks");
    }
}
