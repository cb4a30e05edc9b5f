package dev.fp4.nn.checkpoint;

import dev.fp4.core.format.BF16;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A model as a Hugging Face LLaMA directory: {@code config.json} ({@code LlamaForCausalLM}) and
 * {@code model.safetensors} under Hugging Face's tensor names, in the layout
 * {@code LlamaForCausalLM} computes with (this library's rotary embedding already rotates halves,
 * as Hugging Face's does, so no weight is permuted):
 *
 * <table>
 * <caption>names</caption>
 * <tr><th>here</th><th>Hugging Face</th></tr>
 * <tr><td>tok_embeddings</td><td>model.embed_tokens.weight</td></tr>
 * <tr><td>layers.N.attn_norm</td><td>model.layers.N.input_layernorm.weight</td></tr>
 * <tr><td>layers.N.attn.wq, wk, wv, wo</td><td>model.layers.N.self_attn.{q,k,v,o}_proj.weight</td></tr>
 * <tr><td>layers.N.ffn_norm</td><td>model.layers.N.post_attention_layernorm.weight</td></tr>
 * <tr><td>layers.N.ffn.w1, w3, w2</td><td>model.layers.N.mlp.{gate,up,down}_proj.weight</td></tr>
 * <tr><td>norm</td><td>model.norm.weight</td></tr>
 * <tr><td>output</td><td>lm_head.weight (absent when the embeddings are tied)</td></tr>
 * </table>
 *
 * F32 exports and imports round-trip bit for bit; BF16 rounds each weight to nearest even.
 */
public final class HuggingFaceLlama {
    /** The weights file in the directory. */
    public static final String WEIGHTS = "model.safetensors";
    /** The configuration file in the directory. */
    public static final String CONFIG = "config.json";

    private static final Pattern LAYER = Pattern.compile("layers\\.(\\d+)\\.(.+)");
    private static final Map<String, String> IN_LAYER = Map.of(
            "attn_norm", "input_layernorm.weight",
            "attn.wq", "self_attn.q_proj.weight",
            "attn.wk", "self_attn.k_proj.weight",
            "attn.wv", "self_attn.v_proj.weight",
            "attn.wo", "self_attn.o_proj.weight",
            "ffn_norm", "post_attention_layernorm.weight",
            "ffn.w1", "mlp.gate_proj.weight",
            "ffn.w3", "mlp.up_proj.weight",
            "ffn.w2", "mlp.down_proj.weight");

    private HuggingFaceLlama() {
    }

    /** The Hugging Face name of a parameter of {@link LlamaModel}. */
    public static String hfName(String name) {
        switch (name) {
            case "tok_embeddings":
                return "model.embed_tokens.weight";
            case "norm":
                return "model.norm.weight";
            case "output":
                return "lm_head.weight";
            default:
                Matcher m = LAYER.matcher(name);
                if (m.matches() && IN_LAYER.containsKey(m.group(2))) {
                    return "model.layers." + m.group(1) + "." + IN_LAYER.get(m.group(2));
                }
                throw new IllegalArgumentException("no Hugging Face name for parameter \"" + name + "\"");
        }
    }

    /**
     * Writes {@code config.json} and {@code model.safetensors} (atomically each) into {@code dir}.
     *
     * @param dtype {@link DType#F32} or {@link DType#BF16}
     */
    public static void export(LlamaConfig c, List<Parameter> params, Path dir, DType dtype) throws IOException {
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("export writes F32 or BF16, not " + dtype);
        }
        Files.createDirectories(dir);
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (Parameter p : params) {
            float[] d = p.data();
            TensorData t;
            if (dtype == DType.F32) {
                t = TensorData.viewOfFloats(d, 0, p.shape());
            } else {
                short[] bits = new short[d.length];
                for (int i = 0; i < d.length; i++) {
                    bits[i] = (short) BF16.encode(d[i]);
                }
                t = TensorData.viewOfShortBits(DType.BF16, bits, p.shape());
            }
            tensors.put(hfName(p.name()), t);
        }
        SafeTensors.write(dir.resolve(WEIGHTS), tensors, Map.of("format", "pt"));
        StringBuilder json = new StringBuilder();
        Json.write(json, config(c, dtype));
        SafeTensors.writeAtomically(dir.resolve(CONFIG), json.append('\n').toString().getBytes(StandardCharsets.UTF_8), WriteHook.NONE);
    }

    private static Map<String, Object> config(LlamaConfig c, DType dtype) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architectures", List.of("LlamaForCausalLM"));
        m.put("model_type", "llama");
        m.put("hidden_act", "silu");
        m.put("hidden_size", (long) c.dim());
        m.put("intermediate_size", (long) c.ffnDim());
        m.put("num_attention_heads", (long) c.heads());
        m.put("num_key_value_heads", (long) c.kvHeads());
        m.put("num_hidden_layers", (long) c.layers());
        m.put("rms_norm_eps", Double.parseDouble(Float.toString(c.normEps())));   // 1e-05, not 9.99999974e-06
        m.put("rope_theta", Double.parseDouble(Float.toString(c.ropeTheta())));
        m.put("vocab_size", (long) c.vocab());
        m.put("max_position_embeddings", (long) c.maxSeq());
        m.put("tie_word_embeddings", c.tiedEmbeddings());
        m.put("torch_dtype", dtype == DType.F32 ? "float32" : "bfloat16");
        return m;
    }

    /**
     * The model shape of a Hugging Face {@code config.json} (a LLaMA: hidden_size,
     * intermediate_size, num_attention_heads, num_key_value_heads (default: the heads),
     * num_hidden_layers, rms_norm_eps, rope_theta (default 10000), vocab_size,
     * max_position_embeddings, tie_word_embeddings (default false)).
     *
     * @throws IOException naming a missing or malformed entry
     */
    public static LlamaConfig readConfig(Path configJson) throws IOException {
        if (!Files.exists(configJson)) {
            throw new NoSuchFileException(configJson.toString());
        }
        Object parsed;
        try {
            parsed = Json.parseFull(Files.readString(configJson, StandardCharsets.UTF_8));
        } catch (Json.JsonException e) {
            throw new IOException(configJson + " is not valid JSON: " + e.getMessage(), e);
        }
        if (!(parsed instanceof Map<?, ?> m)) {
            throw new IOException(configJson + " is not a JSON object");
        }
        int heads = intOf(configJson, m, "num_attention_heads", null);
        try {
            return new LlamaConfig(intOf(configJson, m, "vocab_size", null), intOf(configJson, m, "hidden_size", null),
                    intOf(configJson, m, "num_hidden_layers", null), heads, intOf(configJson, m, "num_key_value_heads", heads),
                    intOf(configJson, m, "intermediate_size", null), intOf(configJson, m, "max_position_embeddings", null),
                    m.get("tie_word_embeddings") instanceof Boolean b && b, (float) numberOf(configJson, m, "rms_norm_eps", null),
                    (float) numberOf(configJson, m, "rope_theta", 10000.0));
        } catch (IllegalArgumentException e) {
            throw new IOException(configJson + ": " + e.getMessage(), e);
        }
    }

    private static int intOf(Path file, Map<?, ?> m, String key, Integer fallback) throws IOException {
        Object v = m.get(key);
        if (v == null && fallback != null) {
            return fallback;
        }
        if (!(v instanceof Long l) || l <= 0 || l > Integer.MAX_VALUE) {
            throw new IOException(file + ": " + key + " must be a positive integer, got " + v);
        }
        return (int) (long) l;
    }

    private static double numberOf(Path file, Map<?, ?> m, String key, Double fallback) throws IOException {
        Object v = m.get(key);
        if (v == null && fallback != null) {
            return fallback;
        }
        if (v instanceof Long l) {
            return l;
        }
        if (!(v instanceof Double d)) {
            throw new IOException(file + ": " + key + " must be a number, got " + v);
        }
        return d;
    }

    /**
     * A model of the directory's shape under {@code recipe}, with its weights (F32 or BF16).
     *
     * @throws IOException naming a missing file, tensor or shape mismatch
     */
    public static LlamaModel load(Path dir, PrecisionRecipe recipe) throws IOException {
        LlamaConfig c = readConfig(dir.resolve(CONFIG));
        LlamaModel m = new LlamaModel(c, recipe, 0);
        SafeTensorsFile f = SafeTensors.read(dir.resolve(WEIGHTS));
        for (Parameter p : m.parameters()) {
            String name = hfName(p.name());
            TensorData t = f.tensors().get(name);
            if (t == null) {
                throw new IOException(dir.resolve(WEIGHTS) + " has no tensor " + name + " (for " + p.name() + ")");
            }
            if (!java.util.Arrays.equals(t.intShape(), p.shape())) {
                throw new IOException(name + " is " + java.util.Arrays.toString(t.intShape()) + ", the configuration needs "
                        + java.util.Arrays.toString(p.shape()));
            }
            if (t.dtype() == DType.F32) {
                t.copyFloatsTo(p.data(), 0);
            } else if (t.dtype() == DType.BF16) {
                short[] bits = t.toShortBits();
                for (int i = 0; i < bits.length; i++) {
                    p.data()[i] = Float.intBitsToFloat((bits[i] & 0xFFFF) << 16);
                }
            } else {
                throw new IOException(name + " is " + t.dtype() + "; F32 or BF16 weights are read");
            }
        }
        return m;
    }
}
