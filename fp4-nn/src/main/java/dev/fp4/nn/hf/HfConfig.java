package dev.fp4.nn.hf;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonWriter;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.data.Gpt2Tokenizer;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A Hugging Face {@code config.json} of {@code LlamaForCausalLM}, to and from {@link LlamaConfig}.
 *
 * <p>Read: {@code hidden_size}, {@code intermediate_size}, {@code num_attention_heads},
 * {@code num_hidden_layers}, {@code vocab_size} and {@code max_position_embeddings} are required;
 * {@code num_key_value_heads} defaults to the attention heads, {@code rms_norm_eps} to 1e-6,
 * {@code rope_theta} to 10000 and {@code tie_word_embeddings} to false (the defaults of
 * transformers' LlamaConfig). Floats are parsed from their decimal text, so a value written from a
 * float reads back as the same float. What this library cannot compute is refused with the key
 * named: another {@code model_type}, {@code hidden_act} other than silu, attention or MLP biases,
 * {@code rope_scaling}, a {@code head_dim} other than hidden_size / heads.
 *
 * <p>Written: those keys plus {@code architectures}, {@code model_type}, {@code head_dim},
 * {@code hidden_act}, {@code torch_dtype}, the biases (false), the GPT-2 tokenizer's
 * {@code bos_token_id}/{@code eos_token_id} and {@code fp4_tokenizer} (the tokenizer's name, read
 * back by {@link #tokenizer}).
 */
public final class HfConfig {
    /** The extra key naming this library's tokenizer. */
    public static final String TOKENIZER_KEY = "fp4_tokenizer";

    private HfConfig() {
    }

    /**
     * The shape in a config.json file.
     *
     * @throws NoSuchFileException      when the file does not exist
     * @throws IllegalArgumentException naming the file and the key that is missing, malformed or unsupported
     */
    public static LlamaConfig read(Path file) throws IOException {
        return parse(text(file), file.toString());
    }

    /** The tokenizer named by a config.json ({@value #TOKENIZER_KEY}), or null when it names none. */
    public static String tokenizer(Path file) throws IOException {
        JsonObject o = object(text(file), file.toString());
        JsonElement e = o.get(TOKENIZER_KEY);
        return e == null || e.isJsonNull() ? null : e.getAsString();
    }

    private static String text(Path file) throws IOException {
        if (!Files.exists(file)) {
            throw new NoSuchFileException(file.toString(), null, "config file not found");
        }
        return Files.readString(file);
    }

    private static JsonObject object(String json, String where) {
        try {
            JsonElement e = JsonParser.parseString(json);
            if (!e.isJsonObject()) {
                throw new IllegalArgumentException(where + ": not a JSON object");
            }
            return e.getAsJsonObject();
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(where + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /**
     * The shape in config.json text; {@code where} names it in messages.
     *
     * @throws IllegalArgumentException naming the key that is missing, malformed or unsupported
     */
    public static LlamaConfig parse(String json, String where) {
        JsonObject o = object(json, where);
        String type = string(o, "model_type", where);
        if (type != null && !type.equals("llama")) {
            throw new IllegalArgumentException(where + ": model_type \"" + type + "\" is not llama (LlamaForCausalLM)");
        }
        String act = string(o, "hidden_act", where);
        if (act != null && !act.equals("silu")) {
            throw new IllegalArgumentException(where + ": hidden_act \"" + act + "\" is not supported (only silu)");
        }
        for (String bias : new String[] {"attention_bias", "mlp_bias"}) {
            if (bool(o, bias, false, where)) {
                throw new IllegalArgumentException(where + ": " + bias + " = true is not supported (no biases)");
            }
        }
        JsonElement scaling = o.get("rope_scaling");
        if (scaling != null && !scaling.isJsonNull()) {
            throw new IllegalArgumentException(where + ": rope_scaling " + scaling + " is not supported (plain RoPE only)");
        }
        int dim = integer(o, "hidden_size", null, where);
        int heads = integer(o, "num_attention_heads", null, where);
        Integer headDim = o.has("head_dim") && !o.get("head_dim").isJsonNull() ? integer(o, "head_dim", null, where) : null;
        if (headDim != null && headDim * heads != dim) {
            throw new IllegalArgumentException(where + ": head_dim " + headDim + " is not hidden_size / num_attention_heads = "
                    + dim + " / " + heads);
        }
        try {
            return new LlamaConfig(integer(o, "vocab_size", null, where), dim, integer(o, "num_hidden_layers", null, where), heads,
                    integer(o, "num_key_value_heads", heads, where), integer(o, "intermediate_size", null, where),
                    integer(o, "max_position_embeddings", null, where), bool(o, "tie_word_embeddings", false, where),
                    number(o, "rms_norm_eps", 1e-6f, where), number(o, "rope_theta", 10000f, where));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
    }

    /**
     * The config.json text of a shape.
     *
     * @param torchDtype {@code float32} or {@code bfloat16}
     * @param tokenizer  the tokenizer's name, written as {@value #TOKENIZER_KEY}
     */
    public static String write(LlamaConfig c, String torchDtype, String tokenizer) {
        Objects.requireNonNull(torchDtype, "torchDtype");
        StringWriter s = new StringWriter();
        try (JsonWriter w = new JsonWriter(s)) {
            w.setIndent("  ");
            w.beginObject();
            w.name("architectures").beginArray().value("LlamaForCausalLM").endArray();
            w.name("model_type").value("llama");
            w.name("hidden_size").value(c.dim());
            w.name("intermediate_size").value(c.ffnDim());
            w.name("num_attention_heads").value(c.heads());
            w.name("num_key_value_heads").value(c.kvHeads());
            w.name("num_hidden_layers").value(c.layers());
            w.name("head_dim").value(c.headDim());
            w.name("hidden_act").value("silu");
            w.name("rms_norm_eps").value((Number) c.normEps());        // Float.toString: reads back as the same float
            w.name("rope_theta").value((Number) c.ropeTheta());
            w.name("vocab_size").value(c.vocab());
            w.name("max_position_embeddings").value(c.maxSeq());
            w.name("tie_word_embeddings").value(c.tiedEmbeddings());
            w.name("attention_bias").value(false);
            w.name("mlp_bias").value(false);
            w.name("torch_dtype").value(torchDtype);
            if ("gpt2".equals(tokenizer)) {
                w.name("bos_token_id").value(Gpt2Tokenizer.END_OF_TEXT);
                w.name("eos_token_id").value(Gpt2Tokenizer.END_OF_TEXT);
            }
            if (tokenizer != null) {
                w.name(TOKENIZER_KEY).value(tokenizer);
            }
            w.endObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);                           // a StringWriter does not fail
        }
        return s + "\n";
    }

    private static String string(JsonObject o, String key, String where) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(where + ": " + key + " is not a string: " + e);
        }
        return e.getAsString();
    }

    private static boolean bool(JsonObject o, String key, boolean dflt, String where) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new IllegalArgumentException(where + ": " + key + " is not true or false: " + e);
        }
        return e.getAsBoolean();
    }

    private static int integer(JsonObject o, String key, Integer dflt, String where) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            if (dflt == null) {
                throw new IllegalArgumentException(where + ": missing " + key);
            }
            return dflt;
        }
        try {
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
                throw new NumberFormatException();
            }
            return Integer.parseInt(e.getAsString());
        } catch (NumberFormatException x) {
            throw new IllegalArgumentException(where + ": " + key + " is not an integer: " + e, x);
        }
    }

    private static float number(JsonObject o, String key, float dflt, String where) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return dflt;
        }
        try {
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
                throw new NumberFormatException();
            }
            return Float.parseFloat(e.getAsString());                    // the literal's text, rounded once to float
        } catch (NumberFormatException x) {
            throw new IllegalArgumentException(where + ": " + key + " is not a number: " + e, x);
        }
    }
}
