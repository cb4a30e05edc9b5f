package dev.fp4.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.gemm.Fp4Gemm;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Fp4Gemm} against the product of the dequantized operands computed in double, for random
 * shapes and every pair of schemes (per-tensor, per-row, per-column, MXFP4, NVFP4, 2-D NVFP4), in
 * the three layouts:
 * <ul>
 *   <li>always within γ_{k+1}·(|C0| + Σ|â||b̂|) + (k+1)·2^−149 (see {@link GemmPropertiesTest});</li>
 *   <li>bit for bit equal to the exact product rounded once to FP32 when both operands' scales are
 *       powers of two spanning the whole reduction dimension (the library's exactness claim: the
 *       E2M1 dot product is a multiple of 1/4 below 2^22 and the outer power-of-two factors are exact).</li>
 * </ul>
 */
class Fp4GemmPropertiesTest {

    static final int TRIES = 150;
    static final List<Fp4Scheme> SCHEMES = List.of(Fp4Scheme.perTensor(), Fp4Scheme.perRow(), Fp4Scheme.perColumn(),
            Fp4Scheme.mxfp4(), Fp4Scheme.nvfp4(), Fp4Scheme.nvfp4_2d());

    enum Layout { NT, NN, TN }

    record Case(Layout layout, int m, int n, int k, Fp4Tensor a, Fp4Tensor b, float[] c0, boolean accumulate) {
        @Override
        public String toString() {
            return layout + " m=" + m + " n=" + n + " k=" + k + " A " + a + " B " + b + " accumulate=" + accumulate;
        }
    }

    static float[] gaussian(SplittableRandom r, int n) {
        float[] x = new float[n];
        double s = Math.scalb(1.0, r.nextInt(-6, 7));
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * s);
        }
        return x;
    }

    static Case gen(SplittableRandom r) {
        Layout layout = Layout.values()[r.nextInt(3)];
        int m = 1 + r.nextInt(24);
        int n = 1 + r.nextInt(24);
        int k = 1 + r.nextInt(80);
        Fp4Scheme sa = SCHEMES.get(r.nextInt(SCHEMES.size()));
        Fp4Scheme sb = SCHEMES.get(r.nextInt(SCHEMES.size()));
        int[] as = layout == Layout.TN ? new int[] {k, m} : new int[] {m, k};
        int[] bs = layout == Layout.NT ? new int[] {n, k} : new int[] {k, n};
        Fp4Tensor a = Fp4Tensor.quantize(gaussian(r, as[0] * as[1]), as[0], as[1], sa);
        Fp4Tensor b = Fp4Tensor.quantize(gaussian(r, bs[0] * bs[1]), bs[0], bs[1], sb);
        return new Case(layout, m, n, k, a, b, gaussian(r, m * n), r.nextBoolean());
    }

    /** Â[i,p] in the layout's orientation. */
    static double aAt(Case t, float[] a, int i, int p) {
        return t.layout == Layout.TN ? a[p * t.m + i] : a[i * t.k + p];
    }

    static double bAt(Case t, float[] b, int j, int p) {
        return t.layout == Layout.NT ? b[j * t.k + p] : b[p * t.n + j];
    }

    /** Whether a scheme's block spans the reduction dimension of an operand stored [rows, K] (kAlongCols) or [K, cols]. */
    static boolean factored(Fp4Scheme s, boolean kAlongCols) {
        boolean pow2 = s.scaleRule() != dev.fp4.core.quant.ScaleRule.EXACT && !s.scaleRule().isTwoLevel();
        return pow2 && (kAlongCols ? s.blockCols() == 0 : s.blockRows() == 0);
    }

    @Test
    void fp4GemmEqualsTheProductOfTheDequantizedOperands() {
        int[] exactCases = {0};
        Property.forAll("Fp4Gemm vs dequantized product", 41, TRIES, Fp4GemmPropertiesTest::gen, t -> {
            float[] c = t.c0.clone();
            switch (t.layout) {
                case NT -> Fp4Gemm.matmulNT(t.a, t.b, c, 0, t.accumulate);
                case NN -> Fp4Gemm.matmulNN(t.a, t.b, c, 0, t.accumulate);
                case TN -> Fp4Gemm.matmulTN(t.a, t.b, c, 0, t.accumulate);
            }
            float[] da = t.a.dequantize();
            float[] db = t.b.dequantize();
            boolean exact = factored(t.a.scheme(), t.layout != Layout.TN) && factored(t.b.scheme(), t.layout == Layout.NT);
            if (exact) {
                exactCases[0]++;
            }
            double gamma = (t.k + 1) * 0x1p-24 / (1 - (t.k + 1) * 0x1p-24);
            for (int i = 0; i < t.m; i++) {
                for (int j = 0; j < t.n; j++) {
                    double s = 0;
                    double abs = 0;
                    for (int p = 0; p < t.k; p++) {
                        double prod = aAt(t, da, i, p) * bAt(t, db, j, p);
                        s += prod;
                        abs += Math.abs(prod);
                    }
                    float got = c[i * t.n + j];
                    String at = "C(" + i + ", " + j + ")";
                    if (exact) {
                        float want = (float) s;                          // s is exact: a sum of multiples of one power of two
                        if (t.accumulate) {
                            want = t.c0[i * t.n + j] + want;             // the optional addition into C rounds once more
                        }
                        assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got), at + " exact");
                    } else {
                        double c0 = t.accumulate ? t.c0[i * t.n + j] : 0;
                        double bound = gamma * (Math.abs(c0) + abs) * (1 + 1e-12) + (t.k + 1) * 0x1p-149;
                        assertTrue(Math.abs(got - (c0 + s)) <= bound, at + ": " + got + " vs " + (c0 + s) + ", bound " + bound);
                    }
                }
            }
        });
        assertTrue(exactCases[0] > TRIES / 10, "the exact branch ran " + exactCases[0] + " times");
    }
}
