package dev.fp4.nn.checkpoint;

import dev.fp4.nn.Parameter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a training run needs to continue exactly: model parameters, optimizer state, step,
 * seed and random-stream positions, the precision recipe's name and the model/run configuration.
 *
 * <p>Stored as one safetensors file ({@link SafeTensors}, with its CRC32C checksums):
 * <ul>
 * <li>each parameter as an F32 tensor under its own name, so
 * {@code safetensors.torch.load_file} returns the weights directly;</li>
 * <li>optimizer tensors under {@code "optim." + key};</li>
 * <li>{@code "train.step"}, {@code "train.seed"} and {@code "train.rng." + stream} as I64 [1]
 * (inside the checksummed data section);</li>
 * <li>metadata: {@code format = "pt"}, {@code fp4.kind = "checkpoint"}, {@code fp4.version},
 * {@code fp4.recipe}, {@code fp4.step} (informative), {@code fp4.config} (a JSON object of
 * strings) and {@code fp4.extra.*} for caller entries.</li>
 * </ul>
 *
 * @param step           optimizer steps completed
 * @param seed           the run's seed
 * @param rngPositions   position of each named random stream (e.g. batches drawn)
 * @param recipe         name of the precision recipe
 * @param config         model and run configuration as strings
 * @param parameters     parameter name → F32 tensor, in model order
 * @param optimizerState the optimizer's named tensors
 * @param extra          further caller metadata
 */
public record Checkpoint(long step, long seed, Map<String, Long> rngPositions, String recipe, Map<String, String> config,
                         Map<String, TensorData> parameters, Map<String, TensorData> optimizerState,
                         Map<String, String> extra) {
    /** Format version written to {@code fp4.version}. */
    public static final String VERSION = "1";
    /** Key in {@link #extra()} of the id of the training run that wrote the checkpoint. */
    public static final String RUN_ID = "run_id";
    /** Suffix of a sharded checkpoint's index, after the single-file name. */
    public static final String INDEX_SUFFIX = ".index.json";
    /** Largest index file read. */
    private static final long MAX_INDEX_BYTES = 100_000_000L;
    private static final String OPTIM = "optim.";
    private static final String TRAIN = "train.";
    private static final String RNG = "train.rng.";
    private static final String EXTRA = "fp4.extra.";

    /** Copies the maps (keeping their order) and validates names. */
    public Checkpoint {
        Objects.requireNonNull(recipe, "recipe");
        if (step < 0) {
            throw new IllegalArgumentException("negative step " + step);
        }
        rngPositions = Collections.unmodifiableMap(new LinkedHashMap<>(rngPositions));
        config = Collections.unmodifiableMap(new LinkedHashMap<>(config));
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        optimizerState = Collections.unmodifiableMap(new LinkedHashMap<>(optimizerState));
        extra = Collections.unmodifiableMap(new LinkedHashMap<>(extra));
        for (String name : parameters.keySet()) {
            if (name.startsWith(OPTIM) || name.startsWith(TRAIN) || name.equals(SafeTensors.METADATA)) {
                throw new IllegalArgumentException("parameter name \"" + name + "\" uses a reserved prefix (optim., train.)");
            }
            if (parameters.get(name).dtype() != DType.F32) {
                throw new IllegalArgumentException("parameter \"" + name + "\" must be F32, got " + parameters.get(name).dtype());
            }
        }
    }

    /**
     * The current state of {@code params} with the rest of the state. The parameter tensors are
     * views of the live arrays, not copies (a checkpoint of a large model needs no second copy of
     * it): write the checkpoint before the parameters change.
     */
    public static Checkpoint capture(long step, long seed, Map<String, Long> rngPositions, String recipe,
                                     Map<String, String> config, List<Parameter> params,
                                     Map<String, TensorData> optimizerState, Map<String, String> extra) {
        Map<String, TensorData> p = new LinkedHashMap<>();
        for (Parameter x : params) {
            if (p.put(x.name(), TensorData.viewOfFloats(x.data(), 0, x.shape())) != null) {
                throw new IllegalArgumentException("duplicate parameter name \"" + x.name() + "\"");
            }
        }
        return new Checkpoint(step, seed, rngPositions, recipe, config, p, optimizerState, extra);
    }

    /**
     * Copies the stored values into {@code params}, which must match by name and shape exactly
     * (same set of names); nothing is modified when they do not.
     *
     * @throws IllegalArgumentException naming the first missing, extra or mis-shaped parameter
     */
    public void restoreParameters(List<Parameter> params) {
        for (Parameter p : params) {
            TensorData t = parameters.get(p.name());
            if (t == null) {
                throw new IllegalArgumentException("checkpoint has no parameter \"" + p.name() + "\"");
            }
            if (!Arrays.equals(t.intShape(), p.shape())) {
                throw new IllegalArgumentException("parameter \"" + p.name() + "\": checkpoint shape "
                        + Arrays.toString(t.intShape()) + ", model shape " + Arrays.toString(p.shape()));
            }
        }
        if (parameters.size() != params.size()) {
            for (String name : parameters.keySet()) {
                if (params.stream().noneMatch(p -> p.name().equals(name))) {
                    throw new IllegalArgumentException("checkpoint parameter \"" + name + "\" does not exist in the model");
                }
            }
        }
        for (Parameter p : params) {
            parameters.get(p.name()).copyFloatsTo(p.data(), 0);
        }
    }

    /** The id of the run that wrote it ({@link #RUN_ID} in {@link #extra()}), or null. */
    public String runId() {
        return extra.get(RUN_ID);
    }

    /** Writes atomically to one file (see {@link SafeTensors#write}). */
    public void write(Path file) throws IOException {
        write(file, WriteHook.NONE);
    }

    /** Writes atomically to one file, calling {@code hook} before each stage. */
    public void write(Path file, WriteHook hook) throws IOException {
        write(file, hook, Long.MAX_VALUE);
    }

    /**
     * Writes atomically, as one safetensors file at {@code file} when the tensors hold at most
     * {@code maxShardBytes}, else as Hugging Face's sharded layout: shards
     * {@code STEM-00001-of-0000N.safetensors} (tensors in order, a new shard whenever the next
     * tensor would take the current one past {@code maxShardBytes}; a larger tensor gets a shard of
     * its own), each a checksummed safetensors file written atomically, and then, last and
     * atomically, the index {@code file + ".index.json"}: {"metadata": {"total_size": bytes, and
     * this checkpoint's metadata}, "weight_map": {tensor: shard file}}. An index therefore exists
     * only once every shard does.
     *
     * @return the path written: {@code file}, or the index
     */
    public Path write(Path file, WriteHook hook, long maxShardBytes) throws IOException {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
        }
        Map<String, TensorData> t = tensors();
        Map<String, String> meta = metadata();
        long total = 0;
        for (TensorData x : t.values()) {
            total += x.byteSize();
        }
        if (total <= maxShardBytes) {
            SafeTensors.write(file, t, meta, hook);
            return file;
        }
        List<Map<String, TensorData>> shards = new ArrayList<>();
        Map<String, TensorData> current = new LinkedHashMap<>();
        long bytes = 0;
        for (var e : t.entrySet()) {
            long b = e.getValue().byteSize();
            if (!current.isEmpty() && bytes + b > maxShardBytes) {
                shards.add(current);
                current = new LinkedHashMap<>();
                bytes = 0;
            }
            current.put(e.getKey(), e.getValue());
            bytes += b;
        }
        shards.add(current);
        String stem = stem(file);
        Map<String, Object> weightMap = new LinkedHashMap<>();
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format(Locale.ROOT, "%s-%05d-of-%05d.safetensors", stem, i + 1, shards.size());
            Map<String, String> shardMeta = new LinkedHashMap<>();
            shardMeta.put("format", "pt");
            shardMeta.put("fp4.kind", SHARD_KIND);
            shardMeta.put("fp4.shard", (i + 1) + "/" + shards.size());
            SafeTensors.write(file.resolveSibling(name), shards.get(i), shardMeta, hook);
            for (String tensor : shards.get(i).keySet()) {
                weightMap.put(tensor, name);
            }
        }
        Map<String, String> indexMeta = new LinkedHashMap<>(meta);
        indexMeta.put("fp4.shards", Integer.toString(shards.size()));
        Map<String, Object> metaOut = new LinkedHashMap<>();
        metaOut.put("total_size", total);
        metaOut.putAll(indexMeta);
        metaOut.put(INDEX_CRC_KEY, SafeTensors.hex(indexCrc(total, indexMeta, weightMap)));
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("metadata", metaOut);
        index.put("weight_map", weightMap);
        StringBuilder json = new StringBuilder();
        Json.write(json, index);
        Path indexFile = file.resolveSibling(file.getFileName() + INDEX_SUFFIX);
        SafeTensors.writeAtomically(indexFile, json.append('\n').toString().getBytes(StandardCharsets.UTF_8), hook);
        return indexFile;
    }

    private static final String SHARD_KIND = "checkpoint-shard";
    private static final String INDEX_CRC_KEY = "fp4.index_crc32c";

    /** The single-file name without ".safetensors". */
    private static String stem(Path file) {
        String n = file.getFileName().toString();
        return n.endsWith(".safetensors") ? n.substring(0, n.length() - ".safetensors".length()) : n;
    }

    /** CRC32C of the index's meaning: total size, metadata sorted by key, the weight map in order. */
    private static long indexCrc(long total, Map<String, String> meta, Map<String, Object> weightMap) {
        StringBuilder b = new StringBuilder(Long.toString(total)).append('\n').append(Json.writeStringMap(new java.util.TreeMap<>(meta)));
        for (var e : weightMap.entrySet()) {
            b.append('\n');
            Json.write(b, List.of(e.getKey(), e.getValue()));
        }
        java.util.zip.CRC32C c = new java.util.zip.CRC32C();
        c.update(b.toString().getBytes(StandardCharsets.UTF_8));
        return c.getValue();
    }

    /** Every tensor in file order: parameters, optimizer state, the training scalars. */
    private Map<String, TensorData> tensors() {
        Map<String, TensorData> t = new LinkedHashMap<>(parameters);
        for (var e : optimizerState.entrySet()) {
            t.put(OPTIM + e.getKey(), e.getValue());
        }
        t.put(TRAIN + "step", TensorData.ofLong(step));
        t.put(TRAIN + "seed", TensorData.ofLong(seed));
        for (var e : rngPositions.entrySet()) {
            t.put(RNG + e.getKey(), TensorData.ofLong(e.getValue()));
        }
        return t;
    }

    /** The metadata strings of the file (or of the index). */
    private Map<String, String> metadata() {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("fp4.kind", "checkpoint");
        meta.put("fp4.version", VERSION);
        meta.put("fp4.recipe", recipe);
        meta.put("fp4.step", Long.toString(step));
        meta.put("fp4.config", Json.writeStringMap(config));
        for (var e : extra.entrySet()) {
            meta.put(EXTRA + e.getKey(), e.getValue());
        }
        return meta;
    }

    /**
     * Reads a checkpoint written by {@link #write}.
     *
     * @throws CheckpointFormatException when the file is not a valid safetensors file, fails its
     *                                   checksums, or lacks a checkpoint entry (named)
     */
    public static Checkpoint read(Path file) throws IOException {
        if (file.getFileName().toString().endsWith(INDEX_SUFFIX)) {
            return readSharded(file);
        }
        SafeTensorsFile f = SafeTensors.read(file);
        Map<String, String> meta = f.metadata();
        return fromParts(file, meta, f.tensors(), meta.containsKey(SafeTensors.DATA_CRC_KEY) && meta.containsKey(SafeTensors.HEADER_CRC_KEY));
    }

    /**
     * The id of the run that wrote the checkpoint at {@code file} (a single file or an index),
     * from its header alone; null when it has none.
     *
     * @throws CheckpointFormatException when the header cannot be read
     */
    public static String runIdOf(Path file) throws IOException {
        Map<String, String> meta = file.getFileName().toString().endsWith(INDEX_SUFFIX) ? readIndex(file).meta
                : SafeTensors.readHeader(file).metadata();
        return meta.get(EXTRA + RUN_ID);
    }

    private record Index(Map<String, String> meta, long totalSize, Map<String, String> weightMap) {
    }

    private static Index readIndex(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_INDEX_BYTES) {
            throw new CheckpointFormatException(file, "index of " + size + " bytes is larger than accepted (" + MAX_INDEX_BYTES + ")");
        }
        Object parsed;
        try {
            parsed = Json.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (Json.JsonException | java.nio.charset.MalformedInputException e) {
            throw new CheckpointFormatException(file, "index is not valid JSON: " + e.getMessage(), e);
        }
        if (!(parsed instanceof Map<?, ?> root) || !(root.get("metadata") instanceof Map<?, ?> m)
                || !(root.get("weight_map") instanceof Map<?, ?> w)) {
            throw new CheckpointFormatException(file, "index must be an object with \"metadata\" and \"weight_map\" objects");
        }
        if (!(m.get("total_size") instanceof Long total) || total < 0) {
            throw new CheckpointFormatException(file, "index metadata has no non-negative integer total_size");
        }
        Map<String, String> meta = new LinkedHashMap<>();
        for (var e : m.entrySet()) {
            if (e.getKey().equals("total_size")) {
                continue;
            }
            if (!(e.getValue() instanceof String s)) {
                throw new CheckpointFormatException(file, "index metadata value of \"" + e.getKey() + "\" is not a string");
            }
            meta.put((String) e.getKey(), s);
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (var e : w.entrySet()) {
            if (!(e.getValue() instanceof String shard) || !shard.matches("[A-Za-z0-9._-]+\\.safetensors") || shard.startsWith(".")) {
                throw new CheckpointFormatException(file, "weight_map entry of \"" + e.getKey() + "\" is not a shard file name beside the index");
            }
            weightMap.put((String) e.getKey(), shard);
        }
        String crc = meta.remove(INDEX_CRC_KEY);
        Map<String, Object> wm = new LinkedHashMap<>(weightMap);
        if (crc == null || !crc.equals(SafeTensors.hex(indexCrc(total, meta, wm)))) {
            throw new CheckpointFormatException(file, "index checksum " + INDEX_CRC_KEY + " missing or wrong (stored " + crc + ")");
        }
        return new Index(meta, total, weightMap);
    }

    private static Checkpoint readSharded(Path file) throws IOException {
        Index index = readIndex(file);
        Map<String, TensorData> all = new LinkedHashMap<>();
        long total = 0;
        for (String shard : new java.util.LinkedHashSet<>(index.weightMap().values())) {
            Path p = file.resolveSibling(shard);
            if (!Files.exists(p)) {
                throw new CheckpointFormatException(file, "shard " + shard + " is missing");
            }
            SafeTensorsFile f = SafeTensors.read(p);
            if (!SHARD_KIND.equals(f.metadata().get("fp4.kind"))) {
                throw new CheckpointFormatException(p, "not a checkpoint shard (metadata fp4.kind is " + f.metadata().get("fp4.kind") + ")");
            }
            for (var e : f.tensors().entrySet()) {
                if (!shard.equals(index.weightMap().get(e.getKey()))) {
                    throw new CheckpointFormatException(p, "tensor \"" + e.getKey() + "\" is not mapped to this shard by the index");
                }
                all.put(e.getKey(), e.getValue());
                total += e.getValue().byteSize();
            }
        }
        if (all.size() != index.weightMap().size() || total != index.totalSize()) {
            throw new CheckpointFormatException(file, "the shards hold " + all.size() + " tensors of " + total + " bytes, the index lists "
                    + index.weightMap().size() + " of " + index.totalSize());
        }
        Map<String, String> meta = new LinkedHashMap<>(index.meta());
        meta.remove("fp4.shards");
        return fromParts(file, meta, all, true);             // every shard's checksums were verified above
    }

    private static Checkpoint fromParts(Path file, Map<String, String> meta, Map<String, TensorData> tensors, boolean checksummed)
            throws IOException {
        if (!"checkpoint".equals(meta.get("fp4.kind"))) {
            throw new CheckpointFormatException(file, "not an fp4 checkpoint (metadata fp4.kind is " + meta.get("fp4.kind") + ")");
        }
        if (!VERSION.equals(meta.get("fp4.version"))) {
            throw new CheckpointFormatException(file, "unsupported checkpoint version " + meta.get("fp4.version") + " (this reader: " + VERSION + ")");
        }
        if (!checksummed) {
            throw new CheckpointFormatException(file, "checkpoint has no checksums (" + SafeTensors.DATA_CRC_KEY + ", "
                    + SafeTensors.HEADER_CRC_KEY + ")");
        }
        String recipe = meta.get("fp4.recipe");
        if (recipe == null) {
            throw new CheckpointFormatException(file, "missing metadata fp4.recipe");
        }
        Map<String, String> config;
        try {
            config = Json.parseStringMap(meta.getOrDefault("fp4.config", "{}"));
        } catch (Json.JsonException e) {
            throw new CheckpointFormatException(file, "metadata fp4.config is not a JSON object of strings: " + e.getMessage(), e);
        }
        Map<String, TensorData> params = new LinkedHashMap<>();
        Map<String, TensorData> optim = new LinkedHashMap<>();
        Map<String, Long> rng = new LinkedHashMap<>();
        long step = -1;
        long seed = 0;
        boolean hasSeed = false;
        for (var e : tensors.entrySet()) {
            String name = e.getKey();
            TensorData t = e.getValue();
            if (name.startsWith(OPTIM)) {
                optim.put(name.substring(OPTIM.length()), t);
            } else if (name.startsWith(TRAIN)) {
                if (t.dtype() != DType.I64 || t.size() != 1) {
                    throw new CheckpointFormatException(file, "tensor \"" + name + "\" must be I64 [1], got " + t);
                }
                long v = t.toLongs()[0];
                if (name.equals(TRAIN + "step")) {
                    step = v;
                } else if (name.equals(TRAIN + "seed")) {
                    seed = v;
                    hasSeed = true;
                } else if (name.startsWith(RNG)) {
                    rng.put(name.substring(RNG.length()), v);
                } else {
                    throw new CheckpointFormatException(file, "unknown training entry \"" + name + "\"");
                }
            } else {
                if (t.dtype() != DType.F32) {
                    throw new CheckpointFormatException(file, "parameter \"" + name + "\" must be F32, got " + t.dtype());
                }
                params.put(name, t);
            }
        }
        if (step < 0 || !hasSeed) {
            throw new CheckpointFormatException(file, "missing or negative train.step / missing train.seed");
        }
        Map<String, String> extra = new LinkedHashMap<>();
        for (var e : meta.entrySet()) {
            if (e.getKey().startsWith(EXTRA)) {
                extra.put(e.getKey().substring(EXTRA.length()), e.getValue());
            }
        }
        return new Checkpoint(step, seed, rng, recipe, config, params, optim, extra);
    }
}
