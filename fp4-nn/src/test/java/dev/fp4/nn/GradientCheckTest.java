package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every layer's FP32 backward against central finite differences of {@link DoubleRef}, a
 * double-precision reference written independently from the formulas. Each layer's output y is
 * reduced to L = Σ y ⊙ R with a fixed random R, so the backward is called with dy = R.
 *
 * <p>Tolerance. The finite differences use h = 1e-5 in double: truncation error ≈ h²·|f'''|/6 and
 * rounding ≈ 1e-16·|L|/h, both below 1e-9 here, so they are exact for our purpose. The analytic
 * gradient is computed in FP32 (unit roundoff 6e-8) through at most a few hundred rounded
 * operations per element (sums over ≤ 64 terms, softmax, norms), so its error is a few 1e-6 of the
 * gradient's scale (observed at most 7e-6, in the whole-model check). We allow 1e-4 of the largest gradient magnitude of the tensor plus 1e-3 of the
 * element's own magnitude: ~30× above that rounding, while a wrong formula (a missing term, a
 * transposed index, a wrong sign) gives errors of the order of the gradient itself.
 */
class GradientCheckTest {
    private static final double H = 1e-5;
    private static final double ABS = 1e-4;
    private static final double REL = 1e-3;

    private static float[] random(SplittableRandom r, int n, double std) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * std);
        }
        return x;
    }

    /** Compares analytic[i] with the finite difference of f at x[i] for every i in {@code indices}. */
    static void check(String what, float[] analytic, double[] x, ToDoubleFunction<double[]> f, int[] indices) {
        double[] numeric = new double[indices.length];
        double scale = 0;
        for (int j = 0; j < indices.length; j++) {
            numeric[j] = DoubleRef.fd(x, indices[j], f, H);
            scale = Math.max(scale, Math.abs(numeric[j]));
        }
        assertTrue(scale > 1e-6, what + ": gradient is (numerically) zero everywhere, the check would be empty");
        for (int j = 0; j < indices.length; j++) {
            double err = Math.abs(analytic[indices[j]] - numeric[j]);
            double tol = ABS * scale + REL * Math.abs(numeric[j]);
            int jj = j;
            double s = scale;
            assertTrue(err <= tol, () -> what + "[" + indices[jj] + "]: analytic " + analytic[indices[jj]]
                    + ", finite difference " + numeric[jj] + " (error " + err + ", gradient scale " + s + ")");
        }
    }

    static int[] all(int n) {
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        return idx;
    }

    static void check(String what, float[] analytic, double[] x, ToDoubleFunction<double[]> f) {
        check(what, analytic, x, f, all(x.length));
    }

    @Test
    void linear() {
        SplittableRandom r = new SplittableRandom(1);
        int rows = 5, in = 7, out = 6;
        Linear lin = new Linear("w", LinearRole.FFN_UP, 0, in, out);
        float[] w = lin.weight().data();
        System.arraycopy(random(r, in * out, 1), 0, w, 0, w.length);
        float[] x = random(r, rows * in, 1);
        float[] dy = random(r, rows * out, 1);
        float[] dx = new float[rows * in];
        lin.forward(x, new float[rows * out], rows);
        lin.backward(dy, dx, false);
        double[] xd = DoubleRef.d(x, x.length);
        double[] wd = DoubleRef.d(w, w.length);
        check("linear dx", dx, xd, v -> DoubleRef.project(DoubleRef.linear(v, wd, rows, in, out), dy));
        check("linear dW", lin.weight().grad(), wd, v -> DoubleRef.project(DoubleRef.linear(xd, v, rows, in, out), dy));
    }

    @Test
    void rmsNorm() {
        SplittableRandom r = new SplittableRandom(2);
        int rows = 4, dim = 20;
        RMSNorm norm = new RMSNorm("n", dim, 1e-5f);
        float[] w = norm.weight().data();
        for (int i = 0; i < dim; i++) {
            w[i] = (float) (1 + 0.3 * r.nextGaussian());
        }
        float[] x = random(r, rows * dim, 2);
        float[] dy = random(r, rows * dim, 1);
        float[] inv = new float[rows];
        norm.forward(x, new float[rows * dim], inv, 0, rows);
        float[] dx = new float[rows * dim];
        norm.backward(x, inv, 0, dy, dx, rows);
        double[] xd = DoubleRef.d(x, x.length);
        double[] wd = DoubleRef.d(w, dim);
        check("rmsnorm dx", dx, xd, v -> DoubleRef.project(DoubleRef.rmsnorm(v, wd, rows, dim, 1e-5), dy));
        check("rmsnorm dw", norm.weight().grad(), wd, v -> DoubleRef.project(DoubleRef.rmsnorm(xd, v, rows, dim, 1e-5), dy));
    }

    @Test
    void rope() {
        SplittableRandom r = new SplittableRandom(3);
        int seq = 3, rows = 6, heads = 2, hd = 8;
        Rope rope = new Rope(hd, 8, 10000);
        float[] x = random(r, rows * heads * hd, 1);
        float[] dy = random(r, rows * heads * hd, 1);
        float[] dx = dy.clone();
        rope.apply(dx, rows, seq, heads, true);
        double[] xd = DoubleRef.d(x, x.length);
        check("rope dx", dx, xd, v -> DoubleRef.project(DoubleRef.rope(v, rows, seq, heads, hd, 10000), dy));
    }

    @Test
    void swiglu() {
        SplittableRandom r = new SplittableRandom(4);
        int n = 37;
        float[] g = random(r, n, 2);
        float[] u = random(r, n, 2);
        float[] dh = random(r, n, 1);
        float[] dg = new float[n];
        float[] du = new float[n];
        SwiGLU.backward(g, 0, u, 0, dh, 0, dg, 0, du, 0, n);
        double[] gd = DoubleRef.d(g, n);
        double[] ud = DoubleRef.d(u, n);
        check("swiglu dg", dg, gd, v -> DoubleRef.project(DoubleRef.swiglu(v, ud), dh));
        check("swiglu du", du, ud, v -> DoubleRef.project(DoubleRef.swiglu(gd, v), dh));
    }

    @Test
    void softmax() {
        SplittableRandom r = new SplittableRandom(5);
        int len = 19;
        float scale = 0.35f;
        float[] s = random(r, len, 3);
        float[] p = new float[len];
        Softmax.forward(s, 0, p, 0, len, scale);
        float[] dp = random(r, len, 1);
        float[] ds = new float[len];
        Softmax.backward(p, 0, dp, 0, ds, 0, len, scale);
        double[] sd = DoubleRef.d(s, len);
        check("softmax ds", ds, sd, v -> {
            double max = Double.NEGATIVE_INFINITY;
            for (double e : v) {
                max = Math.max(max, e * scale);
            }
            double sum = 0;
            double dot = 0;
            for (int i = 0; i < len; i++) {
                double e = Math.exp(v[i] * scale - max);
                sum += e;
                dot += e * dp[i];
            }
            return dot / sum;
        });
    }

    @Test
    void crossEntropy() {
        SplittableRandom r = new SplittableRandom(6);
        int rows = 3, vocab = 11;
        float[] z = random(r, rows * vocab, 3);
        int[] t = {4, 0, 10};
        float[] dz = new float[rows * vocab];
        float loss = CrossEntropy.forward(z, t, rows, vocab, dz, true);
        double[] zd = DoubleRef.d(z, z.length);
        double ref = DoubleRef.crossEntropy(zd, t, rows, vocab);
        // FP32 log-softmax of 11 logits: a few ulp of the loss.
        assertTrue(Math.abs(loss - ref) <= 1e-6 * Math.max(1, Math.abs(ref)), () -> loss + " vs " + ref);
        check("cross-entropy dlogits", dz, zd, v -> DoubleRef.crossEntropy(v, t, rows, vocab));
    }

    @ParameterizedTest
    @CsvSource({"4, 4", "4, 2", "4, 1"})
    void attention(int heads, int kvHeads) {
        SplittableRandom r = new SplittableRandom(7 + kvHeads);
        LlamaConfig c = new LlamaConfig(8, 16, 1, heads, kvHeads, 24, 8);
        int batch = 2, seq = 5, n = batch * seq;
        Attention att = new Attention("a.", 0, c, new Rope(c.headDim(), c.maxSeq(), c.ropeTheta()));
        for (Linear l : att.linears()) {
            float[] w = l.weight().data();
            System.arraycopy(random(r, w.length, 0.4), 0, w, 0, w.length);
        }
        float[] x = random(r, n * c.dim(), 1);
        float[] dy = random(r, n * c.dim(), 1);
        Workspace ws = new Workspace();
        ws.ensure(c, batch, seq);
        att.forward(x, new float[n * c.dim()], batch, seq);
        float[] dx = new float[n * c.dim()];
        att.backward(dy, dx, ws);
        List<double[]> w = new ArrayList<>();
        for (Linear l : att.linears()) {
            w.add(DoubleRef.d(l.weight().data(), l.weight().size()));
        }
        double[] xd = DoubleRef.d(x, x.length);
        ToDoubleFunction<List<double[]>> f = ws4 -> DoubleRef.project(
                DoubleRef.attention(xd, ws4.get(0), ws4.get(1), ws4.get(2), ws4.get(3), c, batch, seq), dy);
        check("attention dx", dx, xd, v -> f.applyAsDouble(w));
        String[] names = {"dWq", "dWk", "dWv", "dWo"};
        for (int i = 0; i < 4; i++) {
            int k = i;
            check("attention " + names[i] + " kv=" + kvHeads, att.linears().get(i).weight().grad(), w.get(i), v -> {
                List<double[]> copy = new ArrayList<>(w);
                copy.set(k, v);
                return f.applyAsDouble(copy);
            });
        }
    }

    @Test
    void feedForward() {
        SplittableRandom r = new SplittableRandom(8);
        LlamaConfig c = new LlamaConfig(8, 8, 1, 2, 2, 12, 8);
        int rows = 5;
        FeedForward ffn = new FeedForward("f.", 0, c);
        for (Linear l : ffn.linears()) {
            float[] w = l.weight().data();
            System.arraycopy(random(r, w.length, 0.5), 0, w, 0, w.length);
        }
        float[] x = random(r, rows * 8, 1);
        float[] dy = random(r, rows * 8, 1);
        Workspace ws = new Workspace();
        ws.ensure(c, 1, rows);
        ffn.forward(x, new float[rows * 8], rows);
        float[] dx = new float[rows * 8];
        ffn.backward(dy, dx, ws);
        List<double[]> w = new ArrayList<>();
        for (Linear l : ffn.linears()) {
            w.add(DoubleRef.d(l.weight().data(), l.weight().size()));
        }
        double[] xd = DoubleRef.d(x, x.length);
        check("ffn dx", dx, xd, v -> DoubleRef.project(DoubleRef.ffn(v, w.get(0), w.get(1), w.get(2), rows, 8, 12), dy));
        for (int i = 0; i < 3; i++) {
            int k = i;
            check("ffn dW" + i, ffn.linears().get(i).weight().grad(), w.get(i), v -> {
                List<double[]> copy = new ArrayList<>(w);
                copy.set(k, v);
                return DoubleRef.project(DoubleRef.ffn(xd, copy.get(0), copy.get(1), copy.get(2), rows, 8, 12), dy);
            });
        }
    }

    @ParameterizedTest
    @CsvSource({"false, 4", "true, 2"})
    void wholeModel(boolean tied, int kvHeads) {
        LlamaConfig c = new LlamaConfig(12, 16, 2, 4, kvHeads, 24, 8, tied, 1e-5f, 10000f);
        LlamaModel model = new LlamaModel(c, PrecisionRecipe.FP32, 11);
        SplittableRandom r = new SplittableRandom(12);
        // Larger weights than the N(0, 0.02²) initialisation, so every path carries gradient.
        for (Parameter p : model.parameters()) {
            float[] d = p.data();
            for (int i = 0; i < d.length; i++) {
                d[i] = p.shape().length == 1 ? (float) (1 + 0.2 * r.nextGaussian()) : (float) (0.3 * r.nextGaussian());
            }
        }
        int batch = 2, seq = 5;
        int[] tokens = new int[batch * seq];
        int[] targets = new int[batch * seq];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = r.nextInt(c.vocab());
            targets[i] = r.nextInt(c.vocab());
        }
        float loss = model.forward(tokens, targets, batch, seq);
        model.backward();
        List<double[]> pd = new ArrayList<>();
        for (Parameter p : model.parameters()) {
            pd.add(DoubleRef.d(p.data(), p.size()));
        }
        double ref = DoubleRef.modelLoss(pd, c, tokens, targets, batch, seq);
        // Loss of ~2.5 through 2 blocks in FP32: agreement to ~1e-6 relative expected; 1e-5 allowed.
        assertTrue(Math.abs(loss - ref) <= 1e-5 * Math.abs(ref), () -> "loss " + loss + " vs double " + ref);
        for (int i = 0; i < pd.size(); i++) {
            Parameter p = model.parameters().get(i);
            int k = i;
            int[] coords = new int[Math.min(12, p.size())];
            for (int j = 0; j < coords.length; j++) {
                coords[j] = r.nextInt(p.size());
            }
            check("model " + p.name(), p.grad(), pd.get(i), v -> {
                List<double[]> copy = new ArrayList<>(pd);
                copy.set(k, v);
                return DoubleRef.modelLoss(copy, c, tokens, targets, batch, seq);
            }, coords);
        }
    }
}
