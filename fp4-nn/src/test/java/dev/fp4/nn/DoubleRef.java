package dev.fp4.nn;

import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * A plain double-precision reference of every layer, written straight from the formulas with naive
 * loops (no shared code with the FP32 layers), for finite-difference gradient checks.
 */
final class DoubleRef {
    private DoubleRef() {
    }

    static double[] d(float[] x, int n) {
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            y[i] = x[i];
        }
        return y;
    }

    /** y[n, out] = x[n, in]·Wᵀ. */
    static double[] linear(double[] x, double[] w, int rows, int in, int out) {
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < in; i++) {
                    s += x[r * in + i] * w[o * in + i];
                }
                y[r * out + o] = s;
            }
        }
        return y;
    }

    static double[] rmsnorm(double[] x, double[] w, int rows, int dim, double eps) {
        double[] y = new double[rows * dim];
        for (int r = 0; r < rows; r++) {
            double ms = 0;
            for (int i = 0; i < dim; i++) {
                ms += x[r * dim + i] * x[r * dim + i];
            }
            double inv = 1 / Math.sqrt(ms / dim + eps);
            for (int i = 0; i < dim; i++) {
                y[r * dim + i] = x[r * dim + i] * inv * w[i];
            }
        }
        return y;
    }

    /** Half-split rotary embedding of x [batch·seq, heads·hd], position = row mod seq. */
    static double[] rope(double[] x, int rows, int seq, int heads, int hd, double theta) {
        double[] y = x.clone();
        int half = hd / 2;
        for (int r = 0; r < rows; r++) {
            int pos = r % seq;
            for (int h = 0; h < heads; h++) {
                int base = r * heads * hd + h * hd;
                for (int i = 0; i < half; i++) {
                    double a = pos * Math.pow(theta, -2.0 * i / hd);
                    double x1 = x[base + i];
                    double x2 = x[base + half + i];
                    y[base + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
                    y[base + half + i] = x1 * Math.sin(a) + x2 * Math.cos(a);
                }
            }
        }
        return y;
    }

    /** Causal GQA attention core on projected, rotated q [rows, H·hd], k and v [rows, KV·hd]. */
    static double[] attentionCore(double[] q, double[] k, double[] v, int batch, int seq, int heads, int kvHeads, int hd) {
        double[] o = new double[batch * seq * heads * hd];
        int group = heads / kvHeads;
        double scale = 1 / Math.sqrt(hd);
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int kh = h / group;
                for (int i = 0; i < seq; i++) {
                    double[] s = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double dot = 0;
                        for (int e = 0; e < hd; e++) {
                            dot += q[((b * seq + i) * heads + h) * hd + e] * k[((b * seq + j) * kvHeads + kh) * hd + e];
                        }
                        s[j] = dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        for (int e = 0; e < hd; e++) {
                            o[((b * seq + i) * heads + h) * hd + e] += s[j] / sum * v[((b * seq + j) * kvHeads + kh) * hd + e];
                        }
                    }
                }
            }
        }
        return o;
    }

    static double[] attention(double[] x, double[] wq, double[] wk, double[] wv, double[] wo, LlamaConfig c,
                              int batch, int seq) {
        int n = batch * seq;
        int hd = c.headDim();
        double[] q = rope(linear(x, wq, n, c.dim(), c.dim()), n, seq, c.heads(), hd, c.ropeTheta());
        double[] k = rope(linear(x, wk, n, c.dim(), c.kvDim()), n, seq, c.kvHeads(), hd, c.ropeTheta());
        double[] v = linear(x, wv, n, c.dim(), c.kvDim());
        return linear(attentionCore(q, k, v, batch, seq, c.heads(), c.kvHeads(), hd), wo, n, c.dim(), c.dim());
    }

    static double[] swiglu(double[] g, double[] u) {
        double[] h = new double[g.length];
        for (int i = 0; i < g.length; i++) {
            h[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
        }
        return h;
    }

    static double[] ffn(double[] x, double[] w1, double[] w2, double[] w3, int rows, int dim, int ffn) {
        return linear(swiglu(linear(x, w1, rows, dim, ffn), linear(x, w3, rows, dim, ffn)), w2, rows, ffn, dim);
    }

    static double crossEntropy(double[] logits, int[] targets, int rows, int vocab) {
        double total = 0;
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, logits[r * vocab + v]);
            }
            double s = 0;
            for (int v = 0; v < vocab; v++) {
                s += Math.exp(logits[r * vocab + v] - max);
            }
            total += max + Math.log(s) - logits[r * vocab + targets[r]];
        }
        return total / rows;
    }

    static double[] add(double[] a, double[] b) {
        double[] c = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i] + b[i];
        }
        return c;
    }

    /** The model's loss from its parameters (in {@link LlamaModel#parameters()} order). */
    static double modelLoss(List<double[]> p, LlamaConfig c, int[] tokens, int[] targets, int batch, int seq) {
        int n = batch * seq;
        int dim = c.dim();
        double[] emb = p.get(0);
        double[] x = new double[n * dim];
        for (int r = 0; r < n; r++) {
            System.arraycopy(emb, tokens[r] * dim, x, r * dim, dim);
        }
        int at = 1;
        for (int l = 0; l < c.layers(); l++) {
            double[] attnNorm = p.get(at++);
            double[] wq = p.get(at++);
            double[] wk = p.get(at++);
            double[] wv = p.get(at++);
            double[] wo = p.get(at++);
            double[] ffnNorm = p.get(at++);
            double[] w1 = p.get(at++);
            double[] w2 = p.get(at++);
            double[] w3 = p.get(at++);
            x = add(x, attention(rmsnorm(x, attnNorm, n, dim, c.normEps()), wq, wk, wv, wo, c, batch, seq));
            x = add(x, ffn(rmsnorm(x, ffnNorm, n, dim, c.normEps()), w1, w2, w3, n, dim, c.ffnDim()));
        }
        double[] xn = rmsnorm(x, p.get(at++), n, dim, c.normEps());
        double[] head = c.tiedEmbeddings() ? emb : p.get(at);
        return crossEntropy(linear(xn, head, n, dim, c.vocab()), targets, n, c.vocab());
    }

    /** Σ y ⊙ r: projects a layer's output to a scalar loss whose dL/dy is r. */
    static double project(double[] y, float[] r) {
        double s = 0;
        for (int i = 0; i < y.length; i++) {
            s += y[i] * r[i];
        }
        return s;
    }

    /** Central difference of f with respect to x[i] (x restored afterwards). */
    static double fd(double[] x, int i, ToDoubleFunction<double[]> f, double h) {
        double old = x[i];
        x[i] = old + h;
        double plus = f.applyAsDouble(x);
        x[i] = old - h;
        double minus = f.applyAsDouble(x);
        x[i] = old;
        return (plus - minus) / (2 * h);
    }
}
