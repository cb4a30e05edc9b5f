package dev.fp4.core.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.gemm.FloatGemm;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Invariants of {@link FloatGemm} on seeded random shapes (1..40 × 1..40 × 0..70, including k = 0
 * and shapes not a multiple of any vector width) with operands at offsets inside larger arrays:
 * <ol>
 *   <li>accuracy against a double-precision reference: |C − C_ref| ≤ γ_{k+1}·(|C0| + Σ_p |a_ip||b_pj|)
 *       + (k+1)·2^−149 per element, with γ_n = n·u/(1 − n·u), u = 2^−24. This is the classical bound
 *       for a dot product of k terms evaluated in any order with products and sums rounded (fused
 *       multiply-adds only round less), plus one more rounding for adding into C0 when accumulating,
 *       plus an absolute 2^−149 per operation for results in the subnormal range;</li>
 *   <li>exactness: on integer data (|a|, |b| ≤ 64, k ≤ 70, so every partial sum is an integer below
 *       2^24) the three layouts and the reference agree bit for bit, and so does Cᵀ = B·Aᵀ;</li>
 *   <li>linearity: scaling A by 2^j scales C by 2^j bit for bit (no overflow or underflow in range);
 *       C(A, B1 + B2) = C(A, B1) + C(A, B2) within the sum of the three bounds;</li>
 *   <li>transposes: NT(A, B) = NN(A, Bᵀ) = TN(Aᵀ, Bᵀ) each within the bound of the reference;</li>
 *   <li>the elements outside C's range are never written; k = 0 gives C = 0 (or C0 when accumulating).</li>
 * </ol>
 */
class GemmPropertiesTest {

    static final int TRIES = 200;
    static final double U = 0x1p-24;

    record Case(int m, int n, int k, float[] a, float[] b, float[] c0, int off, boolean accumulate) {
        @Override
        public String toString() {
            return "m=" + m + " n=" + n + " k=" + k + " off=" + off + " accumulate=" + accumulate;
        }
    }

    static float value(SplittableRandom r, boolean integer) {
        if (integer) {
            return r.nextInt(-64, 65);
        }
        return switch (r.nextInt(8)) {
            case 0 -> 0f;
            case 1 -> Floats.signed(r, Float.MIN_NORMAL * r.nextInt(1, 8));
            case 2 -> (float) (r.nextGaussian() * Math.scalb(1.0, r.nextInt(-20, 21)));
            default -> (float) r.nextGaussian();
        };
    }

    static Case gen(SplittableRandom r, boolean integer) {
        int m = 1 + r.nextInt(40);
        int n = 1 + r.nextInt(40);
        int k = r.nextInt(8) == 0 ? 0 : 1 + r.nextInt(70);
        int off = r.nextInt(5);
        float[] a = new float[off + m * k + 3];
        float[] b = new float[off + n * k + 3];
        float[] c0 = new float[off + m * n + 3];
        for (float[] x : new float[][] {a, b, c0}) {
            for (int i = 0; i < x.length; i++) {
                x[i] = value(r, integer);
            }
        }
        return new Case(m, n, k, a, b, c0, off, r.nextBoolean());
    }

    /** A[m,k] as row-major doubles read with the layout's strides. */
    static double[] reference(Case t, double[] bound) {
        double[] ref = new double[t.m * t.n];
        for (int i = 0; i < t.m; i++) {
            for (int j = 0; j < t.n; j++) {
                double s = 0;
                double abs = 0;
                for (int p = 0; p < t.k; p++) {
                    double prod = (double) t.a[t.off + i * t.k + p] * t.b[t.off + j * t.k + p]; // exact in double
                    s += prod;
                    abs += Math.abs(prod);
                }
                double c0 = t.accumulate ? t.c0[t.off + i * t.n + j] : 0;
                ref[i * t.n + j] = c0 + s;
                bound[i * t.n + j] = gamma(t.k + 1) * (Math.abs(c0) + abs) * (1 + 1e-12) + (t.k + 1) * 0x1p-149;
            }
        }
        return ref;
    }

    static double gamma(int n) {
        return n * U / (1 - n * U);
    }

    /** B[n,k] → Bᵀ [k,n], both row-major, at offset off. */
    static float[] transpose(float[] x, int off, int rows, int cols) {
        float[] t = new float[off + rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[off + c * rows + r] = x[off + r * cols + c];
            }
        }
        return t;
    }

    static float[] nt(Case t, float[] a, float[] b) {
        float[] c = t.c0.clone();
        FloatGemm.matmulNT(a, t.off, b, t.off, c, t.off, t.m, t.n, t.k, t.accumulate);
        return c;
    }

    static float[] nn(Case t) {
        float[] c = t.c0.clone();
        FloatGemm.matmulNN(t.a, t.off, transpose(t.b, t.off, t.n, t.k), t.off, c, t.off, t.m, t.n, t.k, t.accumulate);
        return c;
    }

    static float[] tn(Case t) {
        float[] c = t.c0.clone();
        FloatGemm.matmulTN(transpose(t.a, t.off, t.m, t.k), t.off, transpose(t.b, t.off, t.n, t.k), t.off, c, t.off, t.m, t.n, t.k,
                t.accumulate);
        return c;
    }

    static void assertWithin(Case t, float[] c, double[] ref, double[] bound, String layout) {
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(c[t.off + i] - ref[i]);
            assertTrue(err <= bound[i], layout + " element " + i + ": |" + c[t.off + i] + " - " + ref[i] + "| = " + err + " > " + bound[i]);
        }
        for (int i = 0; i < t.off; i++) {
            assertEquals(Float.floatToRawIntBits(t.c0[i]), Float.floatToRawIntBits(c[i]), layout + " wrote before C at " + i);
        }
        for (int i = t.off + ref.length; i < c.length; i++) {
            assertEquals(Float.floatToRawIntBits(t.c0[i]), Float.floatToRawIntBits(c[i]), layout + " wrote after C at " + i);
        }
    }

    @Test
    void allLayoutsAreWithinTheDotProductErrorBound() {
        Property.forAll("GeMM NT/NN/TN within gamma_(k+1)·Σ|a||b| of double", 1, TRIES, r -> gen(r, false), t -> {
            double[] bound = new double[t.m * t.n];
            double[] ref = reference(t, bound);
            assertWithin(t, nt(t, t.a, t.b), ref, bound, "NT");
            assertWithin(t, nn(t), ref, bound, "NN");
            assertWithin(t, tn(t), ref, bound, "TN");
        });
    }

    @Test
    void integerProductsAreExactInEveryLayoutAndUnderTransposition() {
        Property.forAll("GeMM exact on integers, C^T = B·A^T", 2, TRIES, r -> gen(r, true), t -> {
            double[] bound = new double[t.m * t.n];
            double[] ref = reference(t, bound);
            for (float[] c : new float[][] {nt(t, t.a, t.b), nn(t), tn(t)}) {
                for (int i = 0; i < ref.length; i++) {
                    assertEquals(ref[i], c[t.off + i], 0.0, "element " + i);
                }
            }
            // Cᵀ[n,m] = B[n,k]·A[m,k]ᵀ
            float[] ct = new float[t.off + t.m * t.n];
            FloatGemm.matmulNT(t.b, t.off, t.a, t.off, ct, t.off, t.n, t.m, t.k, false);
            for (int i = 0; i < t.m; i++) {
                for (int j = 0; j < t.n; j++) {
                    double s = ref[i * t.n + j] - (t.accumulate ? t.c0[t.off + i * t.n + j] : 0);
                    assertEquals(s, ct[t.off + j * t.m + i], 0.0, "C^T (" + j + ", " + i + ")");
                }
            }
        });
    }

    /**
     * The case with every |value| &lt; 2^−60 set to 0: products then stay ≥ 2^−120, in FP32's normal
     * range, where scaling by a power of two commutes with rounding.
     */
    static Case withoutTinyValues(Case t) {
        for (float[] x : new float[][] {t.a, t.b, t.c0}) {
            for (int i = 0; i < x.length; i++) {
                if (Math.abs(x[i]) < 0x1p-60f) {
                    x[i] = 0f;
                }
            }
        }
        return t;
    }

    @Test
    void scalingByAPowerOfTwoIsExactAndAdditionIsWithinBound() {
        Property.forAll("GeMM linearity", 3, TRIES, r -> withoutTinyValues(gen(r, false)), t -> {
            int j = 1 + (int) (Math.abs(t.m * 31L + t.n) % 5);
            float[] a2 = t.a.clone();
            for (int i = 0; i < a2.length; i++) {
                a2[i] = Math.scalb(a2[i], j);
            }
            Case noAcc = new Case(t.m, t.n, t.k, t.a, t.b, t.c0, t.off, false);
            float[] c1 = nt(noAcc, t.a, t.b);
            float[] c2 = nt(noAcc, a2, t.b);
            for (int i = 0; i < t.m * t.n; i++) {
                float x = c1[t.off + i];
                if (Math.abs(x) >= 0x1p-100f || x == 0f) {             // far from the subnormal range
                    assertEquals(Float.floatToRawIntBits(Math.scalb(x, j)), Float.floatToRawIntBits(c2[t.off + i]), "2^" + j + "·C at " + i);
                }
            }
            // additivity: B1 + B2 exact in FP32 (B2 = B1 rounded to 8 significant bits, so B1 - B2 is exact)
            float[] b2 = t.b.clone();
            float[] b12 = t.b.clone();
            for (int i = 0; i < b2.length; i++) {
                b2[i] = Float.intBitsToFloat(Float.floatToRawIntBits(t.b[i]) & 0xFFFF8000);
                b12[i] = t.b[i] - b2[i];                                // exact (Sterbenz / truncated bits)
            }
            float[] cb2 = nt(noAcc, t.a, b2);
            float[] cb12 = nt(noAcc, t.a, b12);
            double[] bSum = new double[t.m * t.n];
            double[] bPart1 = new double[t.m * t.n];
            double[] bPart2 = new double[t.m * t.n];
            reference(noAcc, bSum);
            reference(new Case(t.m, t.n, t.k, t.a, b2, t.c0, t.off, false), bPart1);
            reference(new Case(t.m, t.n, t.k, t.a, b12, t.c0, t.off, false), bPart2);
            for (int i = 0; i < t.m * t.n; i++) {
                double d = Math.abs((double) c1[t.off + i] - cb2[t.off + i] - cb12[t.off + i]);
                assertTrue(d <= bSum[i] + bPart1[i] + bPart2[i], "additivity at " + i + ": " + d);
            }
        });
    }
}
