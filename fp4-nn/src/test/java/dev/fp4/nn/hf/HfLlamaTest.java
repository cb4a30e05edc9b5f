package dev.fp4.nn.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.fp4.core.format.BF16;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.DType;
import dev.fp4.nn.checkpoint.TensorData;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HfLlamaTest {
    @TempDir
    Path dir;

    /** A model with weights large enough that every path matters (the default init is near-uniform). */
    static LlamaModel model(LlamaConfig c, long seed) {
        LlamaModel m = new LlamaModel(c, PrecisionRecipe.FP32, seed);
        SplittableRandom r = new SplittableRandom(seed + 1);
        for (Parameter p : m.parameters()) {
            float[] d = p.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = p.shape().length == 1 ? (float) (1 + 0.1 * r.nextGaussian()) : (float) (0.15 * r.nextGaussian());
            }
        }
        return m;
    }

    static final LlamaConfig GQA = new LlamaConfig(40, 32, 2, 4, 2, 48, 16, false, 1.0e-5f, 10000f);

    @ParameterizedTest
    @CsvSource({"false, 2", "true, 4", "false, 1"})
    void exportImportRoundTripsBitForBit(boolean tied, int kv) throws IOException {
        LlamaConfig c = new LlamaConfig(40, 32, 2, 4, kv, 48, 16, tied, 3.0e-6f, 500000f);
        LlamaModel m = model(c, 3);
        HfLlama.export(dir, c, HfLlama.tensors(m.parameters()), DType.F32, "byte");
        HfLlama.Model back = HfLlama.load(dir);
        assertEquals(c, back.config());
        assertEquals("byte", back.tokenizer());
        LlamaModel fresh = new LlamaModel(back.config(), PrecisionRecipe.FP32, 99);
        back.restore(fresh.parameters());
        for (int i = 0; i < m.parameters().size(); i++) {
            assertArrayEquals(m.parameters().get(i).data(), fresh.parameters().get(i).data(), m.parameters().get(i).name());
        }
        JsonObject cfg = JsonParser.parseString(Files.readString(dir.resolve("config.json"))).getAsJsonObject();
        assertEquals("LlamaForCausalLM", cfg.getAsJsonArray("architectures").get(0).getAsString());
        assertEquals(kv, cfg.get("num_key_value_heads").getAsInt());
        assertEquals(tied, cfg.get("tie_word_embeddings").getAsBoolean());
        assertEquals("float32", cfg.get("torch_dtype").getAsString());
        assertEquals(tied, !safetensorsNames(dir.resolve("model.safetensors")).contains("lm_head.weight"));
    }

    @Test
    void bf16ExportRoundsOnceAndIsStable() throws IOException {
        LlamaModel m = model(GQA, 5);
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        HfLlama.export(a, GQA, HfLlama.tensors(m.parameters()), DType.BF16, null);
        HfLlama.Model back = HfLlama.load(a);
        for (Parameter p : m.parameters()) {
            float[] got = back.parameters().get(p.name()).toFloats();
            for (int i = 0; i < got.length; i++) {
                assertEquals(BF16.round(p.data()[i]), got[i], p.name());
            }
        }
        HfLlama.export(b, back.config(), back.parameters(), DType.BF16, null);
        assertArrayEquals(Files.readAllBytes(a.resolve("model.safetensors")), Files.readAllBytes(b.resolve("model.safetensors")));
        assertEquals("bfloat16", JsonParser.parseString(Files.readString(a.resolve("config.json"))).getAsJsonObject().get("torch_dtype").getAsString());
    }

    /**
     * The exported files read by hand (safetensors layout, config.json with Gson) and run through
     * LlamaForCausalLM's published forward in double precision, written here independently of the
     * library's layers (rotate_half RoPE, repeat_kv, additive causal mask): the loss equals the
     * library's FP32 loss to FP32 rounding (~1e-6 relative over 2 layers; 2e-5 allowed).
     */
    @ParameterizedTest
    @CsvSource({"false, 2", "true, 4", "false, 1"})
    void exportedModelGivesTheSameLossAsAnIndependentLlamaForCausalLM(boolean tied, int kv) throws IOException {
        LlamaConfig c = new LlamaConfig(40, 32, 2, 4, kv, 48, 16, tied, 1.0e-5f, 10000f);
        LlamaModel m = model(c, 7);
        HfLlama.export(dir, c, HfLlama.tensors(m.parameters()), DType.F32, null);
        SplittableRandom r = new SplittableRandom(8);
        int batch = 2;
        int seq = 12;
        int[] tokens = new int[batch * seq];
        int[] targets = new int[batch * seq];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = r.nextInt(c.vocab());
            targets[i] = r.nextInt(c.vocab());
        }
        float loss = m.evaluate(tokens, targets, batch, seq);
        double ref = ReferenceLlama.load(dir).loss(tokens, targets, batch, seq);
        assertEquals(ref, loss, 2e-5 * ref, "library " + loss + " vs LlamaForCausalLM equations " + ref);
    }

    @Test
    void unsupportedConfigsAndBadFilesAreNamed() throws IOException {
        String base = HfConfig.write(GQA, "float32", null);
        assertEquals(GQA, HfConfig.parse(base, "c"));
        String[][] bad = {
            {"\"model_type\": \"llama\"", "\"model_type\": \"gpt2\"", "model_type \"gpt2\""},
            {"\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "hidden_act \"gelu\""},
            {"\"attention_bias\": false", "\"attention_bias\": true", "attention_bias"},
            {"\"head_dim\": 8", "\"head_dim\": 16", "head_dim 16"},
            {"\"hidden_size\": 32,", "", "missing hidden_size"},
            {"\"vocab_size\": 40", "\"vocab_size\": 4.5", "vocab_size is not an integer"},
            {"\"mlp_bias\": false", "\"mlp_bias\": false, \"rope_scaling\": {\"type\": \"linear\"}", "rope_scaling"},
        };
        for (String[] b : bad) {
            assertTrue(base.contains(b[0]), b[0]);
            var e = assertThrows(IllegalArgumentException.class, () -> HfConfig.parse(base.replace(b[0], b[1]), "c.json"));
            assertTrue(e.getMessage().contains(b[2]) && e.getMessage().startsWith("c.json"), e.getMessage());
        }
        LlamaModel m = model(GQA, 1);
        Map<String, TensorData> t = new HashMap<>(HfLlama.tensors(m.parameters()));
        t.remove("layers.1.ffn.w2");
        var e = assertThrows(IllegalArgumentException.class, () -> HfLlama.export(dir, GQA, t, DType.F32, null));
        assertTrue(e.getMessage().contains("layers.1.ffn.w2"), e.getMessage());
        HfLlama.export(dir, GQA, HfLlama.tensors(m.parameters()), DType.F32, null);
        Files.writeString(dir.resolve("config.json"), HfConfig.write(GQA.withKvHeads(4), "float32", null));
        var s = assertThrows(IllegalArgumentException.class, () -> HfLlama.load(dir));
        assertTrue(s.getMessage().contains("model.layers.0.self_attn.k_proj.weight has shape [16, 32]"), s.getMessage());
        assertThrows(java.nio.file.NoSuchFileException.class, () -> HfLlama.load(dir.resolve("nothing")));
    }

    static List<String> safetensorsNames(Path f) throws IOException {
        return List.copyOf(ReferenceLlama.readSafetensors(f).keySet());
    }

    /** The LlamaForCausalLM equations over raw files, in double precision. */
    static final class ReferenceLlama {
        final JsonObject cfg;
        final Map<String, double[]> w;

        ReferenceLlama(JsonObject cfg, Map<String, double[]> w) {
            this.cfg = cfg;
            this.w = w;
        }

        static ReferenceLlama load(Path dir) throws IOException {
            return new ReferenceLlama(JsonParser.parseString(Files.readString(dir.resolve("config.json"))).getAsJsonObject(),
                    readSafetensors(dir.resolve("model.safetensors")));
        }

        /** safetensors: u64 LE header length, JSON header, raw little-endian F32 data. */
        static Map<String, double[]> readSafetensors(Path f) throws IOException {
            byte[] all = Files.readAllBytes(f);
            ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            int n = (int) bb.getLong(0);
            JsonObject header = JsonParser.parseString(new String(all, 8, n, StandardCharsets.UTF_8)).getAsJsonObject();
            Map<String, double[]> out = new java.util.LinkedHashMap<>();
            for (var e : header.entrySet()) {
                if (e.getKey().equals("__metadata__")) {
                    continue;
                }
                JsonObject t = e.getValue().getAsJsonObject();
                assertEquals("F32", t.get("dtype").getAsString());
                int begin = t.getAsJsonArray("data_offsets").get(0).getAsInt();
                int end = t.getAsJsonArray("data_offsets").get(1).getAsInt();
                double[] v = new double[(end - begin) / 4];
                for (int i = 0; i < v.length; i++) {
                    v[i] = bb.getFloat(8 + n + begin + 4 * i);
                }
                out.put(e.getKey(), v);
            }
            return out;
        }

        int i(String k) {
            return cfg.get(k).getAsInt();
        }

        /** y[rows, out] = x[rows, in] · Wᵀ, W [out, in] (torch.nn.Linear without bias). */
        static double[] linear(double[] x, double[] wt, int rows, int in, int out) {
            double[] y = new double[rows * out];
            for (int r = 0; r < rows; r++) {
                for (int o = 0; o < out; o++) {
                    double s = 0;
                    for (int k = 0; k < in; k++) {
                        s += x[r * in + k] * wt[o * in + k];
                    }
                    y[r * out + o] = s;
                }
            }
            return y;
        }

        /** LlamaRMSNorm: weight · x · rsqrt(mean(x²) + eps). */
        double[] rmsNorm(double[] x, double[] g, int rows, int dim) {
            double eps = cfg.get("rms_norm_eps").getAsDouble();
            double[] y = new double[x.length];
            for (int r = 0; r < rows; r++) {
                double ms = 0;
                for (int k = 0; k < dim; k++) {
                    ms += x[r * dim + k] * x[r * dim + k];
                }
                double inv = 1 / Math.sqrt(ms / dim + eps);
                for (int k = 0; k < dim; k++) {
                    y[r * dim + k] = g[k] * (x[r * dim + k] * inv);
                }
            }
            return y;
        }

        /** apply_rotary_pos_emb: x·cos + rotate_half(x)·sin with emb = cat(freqs, freqs), rotate_half = cat(−x2, x1). */
        void rope(double[] x, int seq, int nHeads, int hd) {
            double theta = cfg.get("rope_theta").getAsDouble();
            double[] tmp = new double[hd];
            for (int t = 0; t < seq; t++) {
                for (int h = 0; h < nHeads; h++) {
                    int off = (t * nHeads + h) * hd;
                    for (int e = 0; e < hd; e++) {
                        double invFreq = 1 / Math.pow(theta, (double) (2 * (e % (hd / 2))) / hd);
                        double ang = t * invFreq;
                        double rot = e < hd / 2 ? -x[off + e + hd / 2] : x[off + e - hd / 2];
                        tmp[e] = x[off + e] * Math.cos(ang) + rot * Math.sin(ang);
                    }
                    System.arraycopy(tmp, 0, x, off, hd);
                }
            }
        }

        double loss(int[] tokens, int[] targets, int batch, int seq) {
            int dim = i("hidden_size");
            int heads = i("num_attention_heads");
            int kv = i("num_key_value_heads");
            int ffn = i("intermediate_size");
            int vocab = i("vocab_size");
            int layers = i("num_hidden_layers");
            int hd = dim / heads;
            double total = 0;
            for (int b = 0; b < batch; b++) {
                double[] h = new double[seq * dim];
                double[] emb = w.get("model.embed_tokens.weight");
                for (int t = 0; t < seq; t++) {
                    System.arraycopy(emb, tokens[b * seq + t] * dim, h, t * dim, dim);
                }
                for (int l = 0; l < layers; l++) {
                    String p = "model.layers." + l + ".";
                    double[] x = rmsNorm(h, w.get(p + "input_layernorm.weight"), seq, dim);
                    double[] q = linear(x, w.get(p + "self_attn.q_proj.weight"), seq, dim, heads * hd);
                    double[] k = linear(x, w.get(p + "self_attn.k_proj.weight"), seq, dim, kv * hd);
                    double[] v = linear(x, w.get(p + "self_attn.v_proj.weight"), seq, dim, kv * hd);
                    rope(q, seq, heads, hd);
                    rope(k, seq, kv, hd);
                    double[] att = new double[seq * dim];
                    for (int hh = 0; hh < heads; hh++) {
                        int kh = hh / (heads / kv);                    // repeat_kv
                        for (int t = 0; t < seq; t++) {
                            double[] s = new double[seq];
                            double max = Double.NEGATIVE_INFINITY;
                            for (int j = 0; j < seq; j++) {
                                double d = 0;
                                for (int e = 0; e < hd; e++) {
                                    d += q[(t * heads + hh) * hd + e] * k[(j * kv + kh) * hd + e];
                                }
                                s[j] = d / Math.sqrt(hd) + (j > t ? Double.NEGATIVE_INFINITY : 0);
                                max = Math.max(max, s[j]);
                            }
                            double z = 0;
                            for (int j = 0; j < seq; j++) {
                                s[j] = Math.exp(s[j] - max);
                                z += s[j];
                            }
                            for (int j = 0; j < seq; j++) {
                                for (int e = 0; e < hd; e++) {
                                    att[t * dim + hh * hd + e] += s[j] / z * v[(j * kv + kh) * hd + e];
                                }
                            }
                        }
                    }
                    double[] o = linear(att, w.get(p + "self_attn.o_proj.weight"), seq, dim, dim);
                    for (int e = 0; e < h.length; e++) {
                        h[e] += o[e];
                    }
                    double[] x2 = rmsNorm(h, w.get(p + "post_attention_layernorm.weight"), seq, dim);
                    double[] g = linear(x2, w.get(p + "mlp.gate_proj.weight"), seq, dim, ffn);
                    double[] u = linear(x2, w.get(p + "mlp.up_proj.weight"), seq, dim, ffn);
                    for (int e = 0; e < g.length; e++) {
                        g[e] = g[e] / (1 + Math.exp(-g[e])) * u[e];     // silu(gate) · up
                    }
                    double[] d = linear(g, w.get(p + "mlp.down_proj.weight"), seq, ffn, dim);
                    for (int e = 0; e < h.length; e++) {
                        h[e] += d[e];
                    }
                }
                double[] hn = rmsNorm(h, w.get("model.norm.weight"), seq, dim);
                boolean tied = cfg.get("tie_word_embeddings").getAsBoolean();
                assertFalse(tied && w.containsKey("lm_head.weight"));
                double[] logits = linear(hn, tied ? emb : w.get("lm_head.weight"), seq, dim, vocab);
                for (int t = 0; t < seq; t++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < vocab; j++) {
                        max = Math.max(max, logits[t * vocab + j]);
                    }
                    double z = 0;
                    for (int j = 0; j < vocab; j++) {
                        z += Math.exp(logits[t * vocab + j] - max);
                    }
                    total += max + Math.log(z) - logits[t * vocab + targets[b * seq + t]];
                }
            }
            return total / (batch * seq);
        }
    }
}
