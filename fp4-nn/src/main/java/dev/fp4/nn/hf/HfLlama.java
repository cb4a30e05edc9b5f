package dev.fp4.nn.hf;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.fp4.core.format.BF16;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.DType;
import dev.fp4.nn.checkpoint.SafeTensors;
import dev.fp4.nn.checkpoint.SafeTensorsFile;
import dev.fp4.nn.checkpoint.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A model as a Hugging Face {@code LlamaForCausalLM} directory: {@code config.json}
 * ({@link HfConfig}) and {@code model.safetensors} under the transformers tensor names, in the
 * layout LlamaForCausalLM computes with. The mapping from this library's parameter names:
 *
 * <pre>
 *   tok_embeddings           model.embed_tokens.weight                     [vocab, dim]
 *   layers.N.attn_norm       model.layers.N.input_layernorm.weight         [dim]
 *   layers.N.attn.wq|wk|wv|wo model.layers.N.self_attn.{q,k,v,o}_proj.weight [out, in]
 *   layers.N.ffn_norm        model.layers.N.post_attention_layernorm.weight [dim]
 *   layers.N.ffn.w1|w3|w2    model.layers.N.mlp.{gate,up,down}_proj.weight  [out, in]
 *   norm                     model.norm.weight                             [dim]
 *   output                   lm_head.weight (absent when tied)             [vocab, dim]
 * </pre>
 *
 * No permutation is needed: both use [out, in] weights (y = x·Wᵀ), the half-split ("rotate_half")
 * RoPE on the projected q and k, RMSNorm with ε inside the root, SwiGLU down(silu(gate)·up), and
 * query head h reading key/value head h / (heads / kvHeads).
 *
 * <p>Export with {@link DType#F32} and import give back the same bits. With {@link DType#BF16}
 * each weight is rounded to nearest even once; importing that and exporting it again gives the same
 * file contents. Import accepts F32, BF16 and F16 tensors, a single {@code model.safetensors} or
 * shards listed by {@code model.safetensors.index.json}, and ignores {@code rotary_emb.inv_freq}
 * buffers that older exports carry.
 */
public final class HfLlama {
    /** Weights file name. */
    public static final String WEIGHTS = "model.safetensors";
    /** Config file name. */
    public static final String CONFIG = "config.json";
    /** Index of a sharded weights file. */
    public static final String INDEX = "model.safetensors.index.json";

    private HfLlama() {
    }

    /**
     * A model read from a directory.
     *
     * @param config     the shape
     * @param tokenizer  the tokenizer the config names ({@link HfConfig#TOKENIZER_KEY}), or null
     * @param parameters F32 tensors under this library's names, in model order
     */
    public record Model(LlamaConfig config, String tokenizer, Map<String, TensorData> parameters) {
        /**
         * Copies the weights into a model's parameters (of the same configuration).
         *
         * @throws IllegalArgumentException naming the first parameter that is missing or mis-shaped
         */
        public void restore(List<Parameter> params) {
            for (Parameter p : params) {
                TensorData t = parameters.get(p.name());
                if (t == null || !Arrays.equals(t.intShape(), p.shape())) {
                    throw new IllegalArgumentException("parameter " + p.name() + " " + Arrays.toString(p.shape()) + ": the imported model has "
                            + (t == null ? "none" : Arrays.toString(t.intShape())));
                }
            }
            for (Parameter p : params) {
                parameters.get(p.name()).copyFloatsTo(p.data(), 0);
            }
        }
    }

    /** The transformers name of one of this library's parameter names. */
    public static String hfName(String name) {
        switch (name) {
            case "tok_embeddings":
                return "model.embed_tokens.weight";
            case "norm":
                return "model.norm.weight";
            case "output":
                return "lm_head.weight";
            default:
                break;
        }
        String[] p = name.split("\\.");
        if (p.length >= 3 && p[0].equals("layers")) {
            String pre = "model.layers." + p[1] + ".";
            String rest = name.substring(("layers." + p[1] + ".").length());
            String mapped = switch (rest) {
                case "attn_norm" -> "input_layernorm.weight";
                case "ffn_norm" -> "post_attention_layernorm.weight";
                case "attn.wq" -> "self_attn.q_proj.weight";
                case "attn.wk" -> "self_attn.k_proj.weight";
                case "attn.wv" -> "self_attn.v_proj.weight";
                case "attn.wo" -> "self_attn.o_proj.weight";
                case "ffn.w1" -> "mlp.gate_proj.weight";
                case "ffn.w3" -> "mlp.up_proj.weight";
                case "ffn.w2" -> "mlp.down_proj.weight";
                default -> null;
            };
            if (mapped != null) {
                return pre + mapped;
            }
        }
        throw new IllegalArgumentException("parameter \"" + name + "\" has no LlamaForCausalLM counterpart");
    }

    /** This library's parameter names of a configuration, in model order. */
    static List<String> names(LlamaConfig c) {
        List<String> n = new java.util.ArrayList<>();
        n.add("tok_embeddings");
        for (int l = 0; l < c.layers(); l++) {
            String p = "layers." + l + ".";
            for (String s : new String[] {"attn_norm", "attn.wq", "attn.wk", "attn.wv", "attn.wo", "ffn_norm", "ffn.w1", "ffn.w2", "ffn.w3"}) {
                n.add(p + s);
            }
        }
        n.add("norm");
        if (!c.tiedEmbeddings()) {
            n.add("output");
        }
        return n;
    }

    /**
     * Writes {@code dir/config.json} and {@code dir/model.safetensors} (each atomically; the
     * directory is created when missing).
     *
     * @param parameters F32 tensors under this library's names (a checkpoint's parameters)
     * @param dtype      {@link DType#F32} or {@link DType#BF16}
     * @param tokenizer  the tokenizer's name recorded in config.json, or null
     * @throws IllegalArgumentException for another dtype or parameters that do not match the configuration
     */
    public static void export(Path dir, LlamaConfig config, Map<String, TensorData> parameters, DType dtype, String tokenizer)
            throws IOException {
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("export dtype must be F32 or BF16, got " + dtype);
        }
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (String name : names(config)) {
            TensorData t = parameters.get(name);
            if (t == null) {
                throw new IllegalArgumentException("missing parameter \"" + name + "\" for a model of " + config);
            }
            out.put(hfName(name), dtype == DType.F32 ? t : bf16(t));
        }
        if (parameters.size() != out.size()) {
            for (String name : parameters.keySet()) {
                if (!names(config).contains(name)) {
                    throw new IllegalArgumentException("parameter \"" + name + "\" does not belong to a model of " + config);
                }
            }
        }
        Files.createDirectories(dir);
        SafeTensors.write(dir.resolve(WEIGHTS), out, Map.of("format", "pt"));
        Path cfg = dir.resolve(CONFIG);
        Path tmp = dir.resolve(CONFIG + SafeTensors.TEMP_SUFFIX);
        Files.writeString(tmp, HfConfig.write(config, dtype == DType.F32 ? "float32" : "bfloat16", tokenizer));
        Files.move(tmp, cfg, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** Parameters as F32 tensors under their names. */
    public static Map<String, TensorData> tensors(List<Parameter> params) {
        Map<String, TensorData> m = new LinkedHashMap<>();
        for (Parameter p : params) {
            m.put(p.name(), TensorData.ofFloats(p.data(), p.shape()));
        }
        return m;
    }

    private static TensorData bf16(TensorData t) {
        float[] v = t.toFloats();
        short[] bits = new short[v.length];
        for (int i = 0; i < v.length; i++) {
            bits[i] = (short) BF16.encode(v[i]);
        }
        return TensorData.ofShortBits(DType.BF16, bits, t.intShape());
    }

    /**
     * Reads a directory written by {@link #export} or by transformers' {@code save_pretrained} of
     * a LlamaForCausalLM whose config this library supports.
     *
     * @throws NoSuchFileException      when config.json or the weights are missing
     * @throws IllegalArgumentException naming a missing, unknown or mis-shaped tensor or an unsupported config
     */
    public static Model load(Path dir) throws IOException {
        Path cfgFile = dir.resolve(CONFIG);
        LlamaConfig config = HfConfig.read(cfgFile);
        String tokenizer = HfConfig.tokenizer(cfgFile);
        Map<String, TensorData> hf = new LinkedHashMap<>();
        for (Path f : weightFiles(dir)) {
            SafeTensorsFile st = SafeTensors.read(f);
            for (var e : st.tensors().entrySet()) {
                if (e.getKey().endsWith("rotary_emb.inv_freq")) {
                    continue;
                }
                if (hf.put(e.getKey(), e.getValue()) != null) {
                    throw new IllegalArgumentException(dir + ": tensor " + e.getKey() + " appears in two weight files");
                }
            }
        }
        Map<String, TensorData> ours = new LinkedHashMap<>();
        Map<String, int[]> shapes = shapes(config);
        for (String name : names(config)) {
            String h = hfName(name);
            TensorData t = hf.remove(h);
            if (t == null) {
                throw new IllegalArgumentException(dir + ": missing tensor " + h);
            }
            if (!Arrays.equals(t.intShape(), shapes.get(name))) {
                throw new IllegalArgumentException(dir + ": tensor " + h + " has shape " + Arrays.toString(t.intShape()) + ", config.json gives "
                        + Arrays.toString(shapes.get(name)));
            }
            ours.put(name, toF32(t, h, dir));
        }
        if (config.tiedEmbeddings()) {
            hf.remove("lm_head.weight");                                // tied: transformers uses the embedding
        }
        if (!hf.isEmpty()) {
            throw new IllegalArgumentException(dir + ": unknown tensors " + new TreeSet<>(hf.keySet()));
        }
        return new Model(config, tokenizer, ours);
    }

    private static List<Path> weightFiles(Path dir) throws IOException {
        Path single = dir.resolve(WEIGHTS);
        if (Files.exists(single)) {
            return List.of(single);
        }
        Path index = dir.resolve(INDEX);
        if (!Files.exists(index)) {
            throw new NoSuchFileException(single.toString(), null, "no " + WEIGHTS + " or " + INDEX + " in " + dir);
        }
        JsonElement map = JsonParser.parseString(Files.readString(index)).getAsJsonObject().get("weight_map");
        if (map == null || !map.isJsonObject()) {
            throw new IllegalArgumentException(index + ": no weight_map object");
        }
        TreeSet<String> files = new TreeSet<>();
        for (var e : ((JsonObject) map).entrySet()) {
            String f = e.getValue().getAsString();
            if (f.contains("/") || f.contains("\\") || f.startsWith(".")) {
                throw new IllegalArgumentException(index + ": shard name " + f + " is not a file name in " + dir);
            }
            files.add(f);
        }
        return files.stream().map(dir::resolve).toList();
    }

    private static Map<String, int[]> shapes(LlamaConfig c) {
        Map<String, int[]> s = new LinkedHashMap<>();
        for (String n : names(c)) {
            int[] shape;
            if (n.equals("tok_embeddings") || n.equals("output")) {
                shape = new int[] {c.vocab(), c.dim()};
            } else if (n.endsWith("norm")) {
                shape = new int[] {c.dim()};
            } else if (n.endsWith("wk") || n.endsWith("wv")) {
                shape = new int[] {c.kvDim(), c.dim()};
            } else if (n.endsWith("wq") || n.endsWith("wo")) {
                shape = new int[] {c.dim(), c.dim()};
            } else if (n.endsWith("w2")) {
                shape = new int[] {c.dim(), c.ffnDim()};
            } else {
                shape = new int[] {c.ffnDim(), c.dim()};
            }
            s.put(n, shape);
        }
        return s;
    }

    private static TensorData toF32(TensorData t, String name, Path dir) {
        return switch (t.dtype()) {
            case F32 -> t;
            case BF16, F16 -> {
                short[] bits = t.toShortBits();
                float[] v = new float[bits.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = t.dtype() == DType.BF16 ? BF16.decode(bits[i] & 0xffff) : Float.float16ToFloat(bits[i]);
                }
                yield TensorData.ofFloats(v, t.intShape());
            }
            default -> throw new IllegalArgumentException(dir + ": tensor " + name + " is " + t.dtype() + ", not F32, BF16 or F16");
        };
    }

}
