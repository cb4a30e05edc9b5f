package dev.fp4.nn.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.CRC32C;

/**
 * Reader and atomic writer of the safetensors format (the layout of Hugging Face's
 * {@code safetensors} library, readable by {@code safetensors.torch.load_file}):
 * <pre>
 *   u64 little-endian N | N bytes of UTF-8 JSON header | data section
 * </pre>
 * The header maps each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}}
 * (offsets relative to the data section) and may hold {@code "__metadata__"}, a map of strings.
 * Tensors are written contiguously in the caller's order; the header is padded with spaces to a
 * multiple of 8 bytes so the data section is 8-byte aligned.
 *
 * <p><b>Checksums.</b> The writer adds two metadata entries: {@value #DATA_CRC_KEY}, the CRC32C of
 * the whole data section, and {@value #HEADER_CRC_KEY}, the CRC32C of a canonical form of the
 * header's meaning: the other metadata entries as JSON sorted by key, then for every tensor in
 * offset order its name, dtype, shape and offsets. The reader verifies both when present (and
 * rejects a file with only one of them), so any change to a tensor's bytes, name, type or shape,
 * or to a metadata value, is detected; files from other writers, without them, are read unchecked.
 *
 * <p><b>Reading is strict</b> and never trusts the header: N must be at most
 * {@link #MAX_HEADER_BYTES} and fit in the file; the header must be valid UTF-8 and JSON whose
 * entries have exactly the three fields; dtypes must be known; offsets must tile the data section
 * exactly (sorted, contiguous from 0, no overlap, no gap, ending at the end of the file) and match
 * dtype × shape. Every violation throws {@link CheckpointFormatException} naming the file and
 * problem; a missing file throws {@link NoSuchFileException}.
 *
 * <p><b>Writing is atomic</b>: the bytes go to a temporary file in the target's directory, which
 * is forced to the device and then moved over the target with {@code ATOMIC_MOVE}; the directory
 * is forced last. A failure at any stage deletes the temporary file and leaves the previous
 * target untouched.
 */
public final class SafeTensors {
    /** Largest header accepted (the reference implementation's limit, 100 MB). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** Metadata key of the data-section checksum (8 lowercase hex digits). */
    public static final String DATA_CRC_KEY = "fp4.data_crc32c";
    /** Metadata key of the header checksum (8 lowercase hex digits). */
    public static final String HEADER_CRC_KEY = "fp4.header_crc32c";
    /** Name of the metadata entry in the header. */
    public static final String METADATA = "__metadata__";
    /** Suffix of temporary files. */
    public static final String TEMP_SUFFIX = ".tmp";

    private SafeTensors() {
    }

    /** Writes atomically with no hook. */
    public static void write(Path file, Map<String, TensorData> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, metadata, WriteHook.NONE);
    }

    /**
     * Writes {@code tensors} (in iteration order) and {@code metadata} atomically to {@code file}.
     *
     * @param hook called before each {@link WriteStage}
     * @throws IllegalArgumentException for a tensor named {@value #METADATA} or an empty name, or
     *                                  metadata using the checksum keys
     */
    public static void write(Path file, Map<String, TensorData> tensors, Map<String, String> metadata, WriteHook hook)
            throws IOException {
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        if (meta.containsKey(DATA_CRC_KEY) || meta.containsKey(HEADER_CRC_KEY)) {
            throw new IllegalArgumentException("metadata keys " + DATA_CRC_KEY + " and " + HEADER_CRC_KEY + " are reserved");
        }
        List<Map.Entry<String, Object>> index = new ArrayList<>();
        long at = 0;
        for (var e : tensors.entrySet()) {
            if (e.getKey().isEmpty() || e.getKey().equals(METADATA)) {
                throw new IllegalArgumentException("invalid tensor name \"" + e.getKey() + "\"");
            }
            TensorData t = e.getValue();
            index.add(indexEntry(e.getKey(), t.dtype(), t.shape(), at, at + t.byteSize()));
            at += t.byteSize();
        }
        meta.put(HEADER_CRC_KEY, hex(headerCrc(meta, index)));
        // The data checksum is known only once the data is written: the header goes out with a
        // placeholder of the same width, and is written again over it at the end.
        meta.put(DATA_CRC_KEY, hex(0));
        byte[] head = header(meta, tensors);

        atomically(file, hook, ch -> {
            hook.before(WriteStage.WRITE_HEADER);
            writeFully(ch, ByteBuffer.wrap(head));
            CRC32C crc = new CRC32C();
            ByteBuffer buf = ByteBuffer.allocateDirect(TensorData.CHUNK);
            for (TensorData t : tensors.values()) {
                hook.before(WriteStage.WRITE_TENSOR);
                for (long off = 0; off < t.byteSize(); off += buf.capacity()) {
                    buf.clear().limit((int) Math.min(buf.capacity(), t.byteSize() - off));
                    t.copyBytes(off, buf);
                    buf.flip();
                    crc.update(buf.duplicate());
                    writeFully(ch, buf);
                }
            }
            meta.put(DATA_CRC_KEY, hex(crc.getValue()));
            byte[] done = header(meta, tensors);
            if (done.length != head.length) {
                throw new IllegalStateException("header changed length: " + head.length + " -> " + done.length);
            }
            writeFully(ch, ByteBuffer.wrap(done), 0);
        });
    }

    /** What {@link #atomically} writes into the temporary file. */
    private interface Body {
        void writeTo(FileChannel ch) throws IOException;
    }

    /**
     * The atomic write: {@code body} fills a new temporary file beside {@code file}, which is forced
     * to the device and moved over {@code file} with {@code ATOMIC_MOVE}; the directory is forced
     * last. A failure at any stage deletes the temporary file and leaves {@code file} as it was.
     */
    private static void atomically(Path file, WriteHook hook, Body body) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = dir.resolve("." + file.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + TEMP_SUFFIX);
        boolean moved = false;
        try {
            hook.before(WriteStage.CREATE_TEMP);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                body.writeTo(ch);
                hook.before(WriteStage.FSYNC_FILE);
                ch.force(true);
            }
            hook.before(WriteStage.RENAME);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot write " + file + " atomically: the file system does not support atomic moves", e);
            }
            moved = true;
            hook.before(WriteStage.FSYNC_DIRECTORY);
            syncDirectory(dir);
        } finally {
            if (!moved) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** u64 length | JSON header padded with spaces to a multiple of 8 bytes. */
    private static byte[] header(Map<String, String> meta, Map<String, TensorData> tensors) {
        Map<String, Object> header = new LinkedHashMap<>();
        header.put(METADATA, meta);
        long offset = 0;
        for (var e : tensors.entrySet()) {
            TensorData t = e.getValue();
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", t.dtype().name());
            List<Object> shape = new ArrayList<>();
            for (long d : t.shape()) {
                shape.add(d);
            }
            info.put("shape", shape);
            info.put("data_offsets", List.of(offset, offset + t.byteSize()));
            offset += t.byteSize();
            header.put(e.getKey(), info);
        }
        StringBuilder json = new StringBuilder();
        Json.write(json, header);
        byte[] h = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) & ~7;
        byte[] head = new byte[8 + padded];
        ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
        System.arraycopy(h, 0, head, 8, h.length);
        for (int i = 8 + h.length; i < head.length; i++) {
            head[i] = ' ';
        }
        return head;
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        long p = position;
        while (b.hasRemaining()) {
            p += ch.write(b, p);
        }
    }

    /** Writes {@code bytes} to {@code file} atomically (see {@link #atomically}). */
    static void writeAtomically(Path file, byte[] bytes, WriteHook hook) throws IOException {
        atomically(file, hook, ch -> {
            hook.before(WriteStage.WRITE_HEADER);
            writeFully(ch, ByteBuffer.wrap(bytes));
        });
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Forces a directory's entries to the device where the platform allows opening a directory. */
    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Some platforms (Windows) cannot open directories; the rename is still atomic there.
            if (Files.isDirectory(dir) && System.getProperty("os.name", "").startsWith("Windows")) {
                return;
            }
            throw e;
        }
    }

    static String hex(long crc) {
        return HexFormat.of().toHexDigits((int) crc);
    }

    /**
     * CRC32C of the canonical header: the JSON (keys sorted) of the metadata without the checksum
     * keys, then one JSON line [name, dtype, [shape], [begin, end]] per tensor in offset order.
     */
    static long headerCrc(Map<String, String> meta, List<Map.Entry<String, Object>> index) {
        Map<String, String> sorted = new TreeMap<>(meta);
        sorted.remove(DATA_CRC_KEY);
        sorted.remove(HEADER_CRC_KEY);
        StringBuilder b = new StringBuilder(Json.writeStringMap(sorted));
        for (Map.Entry<String, Object> e : index) {
            b.append('\n');
            Json.write(b, List.of(e.getKey(), e.getValue()));
        }
        CRC32C c = new CRC32C();
        c.update(b.toString().getBytes(StandardCharsets.UTF_8));
        return c.getValue();
    }

    private static Map.Entry<String, Object> indexEntry(String name, DType dtype, long[] shape, long begin, long end) {
        List<Object> s = new ArrayList<>();
        for (long d : shape) {
            s.add(d);
        }
        return Map.entry(name, List.of(dtype.name(), s, List.of(begin, end)));
    }

    /**
     * Reads and validates a safetensors file.
     *
     * @throws NoSuchFileException        when it does not exist
     * @throws CheckpointFormatException  when its content is invalid (see the class comment)
     */
    public static SafeTensorsFile read(Path file) throws IOException {
        return read(file, true);
    }

    /**
     * As {@link #read(Path)}, checking the header (and its checksum) but not reading the data
     * section: for a quick look at a file's metadata and tensor index.
     */
    public static SafeTensorsFile readHeader(Path file) throws IOException {
        return read(file, false);
    }

    private static SafeTensorsFile read(Path file, boolean verifyData) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new CheckpointFormatException(file, "truncated: " + size + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0, file);
            long n = lenBuf.flip().getLong();
            if (n < 0 || n > MAX_HEADER_BYTES) {
                throw new CheckpointFormatException(file, "bad header length " + Long.toUnsignedString(n)
                        + " (at most " + MAX_HEADER_BYTES + " accepted)");
            }
            if (n > size - 8) {
                throw new CheckpointFormatException(file, "header length " + n + " reaches beyond the end of the file ("
                        + size + " bytes): truncated or corrupt");
            }
            if (n < 2) {
                throw new CheckpointFormatException(file, "header length " + n + " is too short for a JSON object");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8, file);
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb.flip()).toString();
            } catch (CharacterCodingException e) {
                throw new CheckpointFormatException(file, "header is not valid UTF-8", e);
            }
            Object parsed;
            try {
                parsed = Json.parse(text);
            } catch (Json.JsonException e) {
                throw new CheckpointFormatException(file, "header is not valid JSON: " + e.getMessage(), e);
            }
            if (!(parsed instanceof Map<?, ?> header)) {
                throw new CheckpointFormatException(file, "header is not a JSON object");
            }
            long dataLen = size - 8 - n;
            Map<String, String> meta = Map.of();
            record Entry(String name, DType dtype, long[] shape, long begin, long end) {
            }
            List<Entry> entries = new ArrayList<>();
            for (var e : header.entrySet()) {
                String name = (String) e.getKey();
                if (name.equals(METADATA)) {
                    meta = metadata(file, e.getValue());
                    continue;
                }
                if (!(e.getValue() instanceof Map<?, ?> info) || !info.keySet().equals(Set.of("dtype", "shape", "data_offsets"))) {
                    throw new CheckpointFormatException(file, "tensor \"" + name
                            + "\": entry must be an object with exactly dtype, shape and data_offsets");
                }
                if (!(info.get("dtype") instanceof String dt)) {
                    throw new CheckpointFormatException(file, "tensor \"" + name + "\": dtype is not a string");
                }
                DType dtype;
                try {
                    dtype = DType.parse(dt);
                } catch (IllegalArgumentException ex) {
                    throw new CheckpointFormatException(file, "tensor \"" + name + "\": " + ex.getMessage());
                }
                long[] shape = longs(file, name, "shape", info.get("shape"), -1);
                long[] off = longs(file, name, "data_offsets", info.get("data_offsets"), 2);
                long count;
                try {
                    count = TensorData.elementCount(shape);
                } catch (IllegalArgumentException ex) {
                    throw new CheckpointFormatException(file, "tensor \"" + name + "\": " + ex.getMessage());
                }
                if (off[0] > off[1] || off[1] > dataLen) {
                    throw new CheckpointFormatException(file, "tensor \"" + name + "\": data_offsets [" + off[0] + ", " + off[1]
                            + "] out of range of the data section (" + dataLen + " bytes)");
                }
                if (off[1] - off[0] != count * dtype.bytes()) {
                    throw new CheckpointFormatException(file, "tensor \"" + name + "\": " + (off[1] - off[0]) + " bytes for "
                            + dtype + java.util.Arrays.toString(shape) + ", which needs " + count * dtype.bytes());
                }
                entries.add(new Entry(name, dtype, shape, off[0], off[1]));
            }
            entries.sort((a, b) -> Long.compare(a.begin(), b.begin()));
            long expected = 0;
            for (Entry en : entries) {
                if (en.begin() != expected) {
                    throw new CheckpointFormatException(file, "tensor \"" + en.name() + "\" starts at " + en.begin() + " but "
                            + (en.begin() < expected ? "the previous tensor ends at " + expected + " (overlap)"
                            : "the previous data ends at " + expected + " (gap)"));
                }
                expected = en.end();
            }
            if (expected != dataLen) {
                throw new CheckpointFormatException(file, "data section has " + dataLen + " bytes but the tensors cover "
                        + expected + (dataLen < expected ? " (truncated)" : " (trailing bytes)"));
            }
            long dataStart = 8 + n;
            Map<String, TensorData> tensors = new LinkedHashMap<>();
            for (Entry en : entries) {
                tensors.put(en.name(), TensorData.inFile(en.dtype(), en.shape(), file, dataStart + en.begin(), en.end() - en.begin()));
            }
            List<Map.Entry<String, Object>> index = new ArrayList<>();
            for (Entry en : entries) {
                index.add(indexEntry(en.name(), en.dtype(), en.shape(), en.begin(), en.end()));
            }
            verify(file, meta, index, verifyData ? ch : null, dataStart, dataLen);
            return new SafeTensorsFile(Collections.unmodifiableMap(tensors), meta);
        }
    }

    private static void verify(Path file, Map<String, String> meta, List<Map.Entry<String, Object>> index, FileChannel ch,
                               long dataStart, long dataLen) throws IOException {
        String dataCrc = meta.get(DATA_CRC_KEY);
        if ((dataCrc == null) != (meta.get(HEADER_CRC_KEY) == null)) {
            throw new CheckpointFormatException(file, "checksum entry missing: the metadata has only one of "
                    + DATA_CRC_KEY + " and " + HEADER_CRC_KEY);
        }
        if (dataCrc != null && ch != null) {
            CRC32C c = new CRC32C();
            ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.min(TensorData.CHUNK, Math.max(dataLen, 1)));
            for (long at = 0; at < dataLen; at += buf.capacity()) {
                buf.clear().limit((int) Math.min(buf.capacity(), dataLen - at));
                readFully(ch, buf, dataStart + at, file);
                c.update(buf.flip());
            }
            if (!dataCrc.equals(hex(c.getValue()))) {
                throw new CheckpointFormatException(file, "checksum mismatch in the data section: stored " + DATA_CRC_KEY + " "
                        + dataCrc + ", computed " + hex(c.getValue()));
            }
        }
        String headerCrc = meta.get(HEADER_CRC_KEY);
        if (headerCrc != null) {
            String computed = hex(headerCrc(meta, index));
            if (!headerCrc.equals(computed)) {
                throw new CheckpointFormatException(file, "checksum mismatch in the header (metadata or tensor index): stored "
                        + HEADER_CRC_KEY + " " + headerCrc + ", computed " + computed);
            }
        }
    }

    private static Map<String, String> metadata(Path file, Object v) throws CheckpointFormatException {
        if (!(v instanceof Map<?, ?> m)) {
            throw new CheckpointFormatException(file, "__metadata__ is not a JSON object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (var e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new CheckpointFormatException(file, "__metadata__ value of \"" + e.getKey() + "\" is not a string");
            }
            out.put((String) e.getKey(), s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static long[] longs(Path file, String tensor, String field, Object v, int len) throws CheckpointFormatException {
        if (!(v instanceof List<?> l) || (len >= 0 && l.size() != len)) {
            throw new CheckpointFormatException(file, "tensor \"" + tensor + "\": " + field + " must be a list of "
                    + (len >= 0 ? len + " " : "") + "non-negative integers");
        }
        if (l.size() > 64) {
            throw new CheckpointFormatException(file, "tensor \"" + tensor + "\": " + field + " has " + l.size() + " entries");
        }
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Long x)) {
                throw new CheckpointFormatException(file, "tensor \"" + tensor + "\": " + field + " must hold integers");
            }
            out[i] = x;
        }
        return out;
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos, Path file) throws IOException {
        long p = pos;
        while (b.hasRemaining()) {
            int r = ch.read(b, p);
            if (r < 0) {
                throw new CheckpointFormatException(file, "truncated: unexpected end of file at byte " + p);
            }
            p += r;
        }
    }
}
