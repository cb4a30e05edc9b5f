package dev.fp4.nn.checkpoint;

import dev.fp4.nn.Parameter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
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

    /** Captures the current values of {@code params} (copied) with the rest of the state. */
    public static Checkpoint capture(long step, long seed, Map<String, Long> rngPositions, String recipe,
                                     Map<String, String> config, List<Parameter> params,
                                     Map<String, TensorData> optimizerState, Map<String, String> extra) {
        Map<String, TensorData> p = new LinkedHashMap<>();
        for (Parameter x : params) {
            if (p.put(x.name(), TensorData.ofFloats(x.data(), x.shape())) != null) {
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

    /** Writes atomically (see {@link SafeTensors#write}). */
    public void write(Path file) throws IOException {
        write(file, WriteHook.NONE);
    }

    /** Writes atomically, calling {@code hook} before each stage. */
    public void write(Path file, WriteHook hook) throws IOException {
        Map<String, TensorData> t = new LinkedHashMap<>(parameters);
        for (var e : optimizerState.entrySet()) {
            t.put(OPTIM + e.getKey(), e.getValue());
        }
        t.put(TRAIN + "step", TensorData.ofLong(step));
        t.put(TRAIN + "seed", TensorData.ofLong(seed));
        for (var e : rngPositions.entrySet()) {
            t.put(RNG + e.getKey(), TensorData.ofLong(e.getValue()));
        }
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
        SafeTensors.write(file, t, meta, hook);
    }

    /**
     * Reads a checkpoint written by {@link #write}.
     *
     * @throws CheckpointFormatException when the file is not a valid safetensors file, fails its
     *                                   checksums, or lacks a checkpoint entry (named)
     */
    public static Checkpoint read(Path file) throws IOException {
        SafeTensorsFile f = SafeTensors.read(file);
        Map<String, String> meta = f.metadata();
        if (!"checkpoint".equals(meta.get("fp4.kind"))) {
            throw new CheckpointFormatException(file, "not an fp4 checkpoint (metadata fp4.kind is " + meta.get("fp4.kind") + ")");
        }
        if (!VERSION.equals(meta.get("fp4.version"))) {
            throw new CheckpointFormatException(file, "unsupported checkpoint version " + meta.get("fp4.version") + " (this reader: " + VERSION + ")");
        }
        if (!meta.containsKey(SafeTensors.DATA_CRC_KEY) || !meta.containsKey(SafeTensors.HEADER_CRC_KEY)) {
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
        for (var e : f.tensors().entrySet()) {
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
