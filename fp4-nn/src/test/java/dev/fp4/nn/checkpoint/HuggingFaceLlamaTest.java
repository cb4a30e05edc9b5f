package dev.fp4.nn.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.format.BF16;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Hugging Face LLaMA export read back by an independent forward written here from the
 * published LlamaForCausalLM equations (double precision, Hugging Face's names and config keys
 * only), which must give the model's loss; and the export/import round trips.
 */
class HuggingFaceLlamaTest {
    /** Grouped-query heads (4 over 2) and an untied head. */
    static final LlamaConfig CFG = new LlamaConfig(256, 32, 2, 4, 2, 80, 48, false, 1e-5f, 10000f);

    @TempDir
    Path dir;

    static LlamaModel model() {
        LlamaModel m = new LlamaModel(CFG, PrecisionRecipe.FP32, 5);
        SplittableRandom r = new SplittableRandom(5);
        for (Parameter p : m.parameters()) {
            for (int i = 0; i < p.size(); i++) {
                p.data()[i] = (float) (p.shape().length == 1 ? 1 + 0.2 * r.nextGaussian() : 0.08 * r.nextGaussian());
            }
        }
        return m;
    }

    @Test
    void anIndependentLlamaForCausalLMForwardOfTheExportGivesTheModelsLoss() throws IOException {
        LlamaModel m = model();
        HuggingFaceLlama.export(CFG, m.parameters(), dir, DType.F32);
        int seq = 40;
        int[] t = new int[seq + 1];
        SplittableRandom r = new SplittableRandom(9);
        for (int i = 0; i < t.length; i++) {
            t[i] = r.nextInt(256);
        }
        int[] in = java.util.Arrays.copyOfRange(t, 0, seq);
        int[] out = java.util.Arrays.copyOfRange(t, 1, seq + 1);
        double ours = m.evaluate(in, out, 1, seq);
        double theirs = HfReference.loss(dir, in, out);
        assertEquals(theirs, ours, 1e-5 * Math.abs(theirs));
    }

    @Test
    void f32RoundTripsBitForBitAndBf16RoundsToNearestEven() throws IOException {
        LlamaModel m = model();
        HuggingFaceLlama.export(CFG, m.parameters(), dir.resolve("f32"), DType.F32);
        HuggingFaceLlama.export(CFG, m.parameters(), dir.resolve("bf16"), DType.BF16);
        LlamaModel back = HuggingFaceLlama.load(dir.resolve("f32"), PrecisionRecipe.FP32);
        LlamaModel half = HuggingFaceLlama.load(dir.resolve("bf16"), PrecisionRecipe.FP32);
        assertEquals(CFG, back.config());
        for (int i = 0; i < m.parameters().size(); i++) {
            float[] want = m.parameters().get(i).data();
            assertArrayEquals(want, back.parameters().get(i).data(), m.parameters().get(i).name());
            float[] rounded = new float[want.length];
            for (int k = 0; k < want.length; k++) {
                rounded[k] = BF16.round(want[k]);
            }
            assertArrayEquals(rounded, half.parameters().get(i).data(), m.parameters().get(i).name());
        }
        String config = Files.readString(dir.resolve("bf16").resolve("config.json"));
        assertTrue(config.contains("\"torch_dtype\":\"bfloat16\"") && config.contains("\"LlamaForCausalLM\""), config);
        assertTrue(SafeTensors.read(dir.resolve("f32").resolve("model.safetensors")).tensors()
                .containsKey("model.layers.1.mlp.gate_proj.weight"));
    }

    @Test
    void aConfigOfAnotherShapeIsRefusedNamingTheTensor() throws IOException {
        LlamaModel m = model();
        HuggingFaceLlama.export(CFG, m.parameters(), dir, DType.F32);
        String c = Files.readString(dir.resolve("config.json")).replace("\"intermediate_size\":80", "\"intermediate_size\":96");
        Files.writeString(dir.resolve("config.json"), c);
        IOException e = assertThrows(IOException.class, () -> HuggingFaceLlama.load(dir, PrecisionRecipe.FP32));
        assertEquals("model.layers.0.mlp.gate_proj.weight is [80, 32], the configuration needs [96, 32]", e.getMessage());
    }

    /** LlamaForCausalLM's forward from its published equations, in double, from Hugging Face's files alone. */
    static final class HfReference {
        @SuppressWarnings("unchecked")
        static double loss(Path dir, int[] in, int[] out) throws IOException {
            Map<String, Object> c;
            try {
                c = (Map<String, Object>) Json.parseFull(Files.readString(dir.resolve("config.json"), StandardCharsets.UTF_8));
            } catch (Json.JsonException e) {
                throw new IOException(e);
            }
            int d = (int) (long) (Long) c.get("hidden_size");
            int heads = (int) (long) (Long) c.get("num_attention_heads");
            int kv = (int) (long) (Long) c.get("num_key_value_heads");
            int layers = (int) (long) (Long) c.get("num_hidden_layers");
            int vocab = (int) (long) (Long) c.get("vocab_size");
            double eps = (Double) c.get("rms_norm_eps");
            double theta = (Double) c.get("rope_theta");
            Map<String, TensorData> w = SafeTensors.read(dir.resolve("model.safetensors")).tensors();
            int n = in.length;
            int hd = d / heads;
            double[][] x = new double[n][];
            for (int i = 0; i < n; i++) {
                x[i] = row(w, "model.embed_tokens.weight", in[i], d);
            }
            for (int l = 0; l < layers; l++) {
                String p = "model.layers." + l + ".";
                double[][] h = new double[n][];
                for (int i = 0; i < n; i++) {
                    h[i] = rmsNorm(x[i], vec(w, p + "input_layernorm.weight"), eps);
                }
                double[][] q = linear(h, w, p + "self_attn.q_proj.weight");
                double[][] k = linear(h, w, p + "self_attn.k_proj.weight");
                double[][] v = linear(h, w, p + "self_attn.v_proj.weight");
                for (int i = 0; i < n; i++) {
                    rope(q[i], heads, hd, i, theta);
                    rope(k[i], kv, hd, i, theta);
                }
                double[][] o = new double[n][d];
                for (int hh = 0; hh < heads; hh++) {
                    int g = hh / (heads / kv);                       // repeat_kv
                    for (int i = 0; i < n; i++) {
                        double[] s = new double[i + 1];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j <= i; j++) {               // causal mask
                            for (int e = 0; e < hd; e++) {
                                s[j] += q[i][hh * hd + e] * k[j][g * hd + e];
                            }
                            s[j] /= Math.sqrt(hd);
                            max = Math.max(max, s[j]);
                        }
                        double z = 0;
                        for (int j = 0; j <= i; j++) {
                            s[j] = Math.exp(s[j] - max);
                            z += s[j];
                        }
                        for (int j = 0; j <= i; j++) {
                            for (int e = 0; e < hd; e++) {
                                o[i][hh * hd + e] += s[j] / z * v[j][g * hd + e];
                            }
                        }
                    }
                }
                double[][] a = linear(o, w, p + "self_attn.o_proj.weight");
                for (int i = 0; i < n; i++) {
                    for (int e = 0; e < d; e++) {
                        x[i][e] += a[i][e];
                    }
                    h[i] = rmsNorm(x[i], vec(w, p + "post_attention_layernorm.weight"), eps);
                }
                double[][] gate = linear(h, w, p + "mlp.gate_proj.weight");
                double[][] up = linear(h, w, p + "mlp.up_proj.weight");
                for (int i = 0; i < n; i++) {
                    for (int e = 0; e < gate[i].length; e++) {
                        gate[i][e] = gate[i][e] / (1 + Math.exp(-gate[i][e])) * up[i][e];   // silu(gate) * up
                    }
                }
                double[][] down = linear(gate, w, p + "mlp.down_proj.weight");
                for (int i = 0; i < n; i++) {
                    for (int e = 0; e < d; e++) {
                        x[i][e] += down[i][e];
                    }
                }
            }
            double loss = 0;
            for (int i = 0; i < n; i++) {
                double[] h = rmsNorm(x[i], vec(w, "model.norm.weight"), eps);
                double[] logits = linear(new double[][] {h}, w, "lm_head.weight")[0];
                double max = Double.NEGATIVE_INFINITY;
                for (double z : logits) {
                    max = Math.max(max, z);
                }
                double lse = 0;
                for (double z : logits) {
                    lse += Math.exp(z - max);
                }
                loss += max + Math.log(lse) - logits[out[i]];
            }
            assertEquals(vocab, vec(w, "lm_head.weight").length / d);
            return loss / n;
        }

        static double[] vec(Map<String, TensorData> w, String name) {
            float[] f = w.get(name).toFloats();
            double[] out = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                out[i] = f[i];
            }
            return out;
        }

        static double[] row(Map<String, TensorData> w, String name, int r, int d) {
            return java.util.Arrays.copyOfRange(vec(w, name), r * d, (r + 1) * d);
        }

        static double[] rmsNorm(double[] x, double[] g, double eps) {
            double ms = 0;
            for (double v : x) {
                ms += v * v;
            }
            double r = 1 / Math.sqrt(ms / x.length + eps);
            double[] y = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                y[i] = g[i] * (x[i] * r);
            }
            return y;
        }

        /** y = x·Wᵀ, W [out, in] as nn.Linear stores it. */
        static double[][] linear(double[][] x, Map<String, TensorData> w, String name) {
            long[] shape = w.get(name).shape();
            int out = (int) shape[0];
            int in = (int) shape[1];
            double[] m = vec(w, name);
            double[][] y = new double[x.length][out];
            for (int i = 0; i < x.length; i++) {
                for (int o = 0; o < out; o++) {
                    double s = 0;
                    for (int k = 0; k < in; k++) {
                        s += x[i][k] * m[o * in + k];
                    }
                    y[i][o] = s;
                }
            }
            return y;
        }

        /** rotate_half: (x1, x2) → (x1·cos − x2·sin, x2·cos + x1·sin), inv_freq = theta^(−2i/d). */
        static void rope(double[] x, int heads, int hd, int pos, double theta) {
            int half = hd / 2;
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < half; i++) {
                    double a = pos * Math.pow(theta, -2.0 * i / hd);
                    double x1 = x[h * hd + i];
                    double x2 = x[h * hd + half + i];
                    x[h * hd + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
                    x[h * hd + half + i] = x2 * Math.cos(a) + x1 * Math.sin(a);
                }
            }
        }
    }
}
