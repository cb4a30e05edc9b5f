package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fp4.core.format.E2M1;
import dev.fp4.core.simd.Simd;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every vector kernel equals its scalar twin bit for bit. The build runs this class at 512, 256,
 * 128 bits and fully scalar (property fp4.vector.bits).
 */
@Tag("kernel")
class QuantKernelsTest {

    private static final int[] LENGTHS = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 257};
    private static final List<Rounding> ROUNDINGS =
            List.of(Rounding.RNE, Rounding.HALF_UP, Rounding.stochastic(5), Rounding.stochastic(-1).withStream(77));

    /** Adversarial values of the scaled input y: ties, neighbours of ties, grid values, ±0, subnormals, huge, ±∞. */
    static float[] adversarial() {
        List<Float> v = new ArrayList<>();
        float[] points = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, 8f, 12f};
        for (float p : points) {
            for (float q : new float[] {p, Math.nextUp(p), Math.nextDown(p)}) {
                v.add(q);
                v.add(-q);
            }
        }
        for (float q : new float[] {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 1e-30f, -1e-30f,
            Float.MAX_VALUE, -Float.MAX_VALUE, 1e20f, -3e9f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            v.add(q);
        }
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.get(i);
        }
        return out;
    }

    /** A mixture: adversarial values, Gaussians of random magnitude, and optionally NaNs. */
    static float[] data(SplittableRandom rnd, int n, boolean withNaN) {
        float[] adv = adversarial();
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            int k = rnd.nextInt(10);
            if (k < 4) {
                x[i] = adv[rnd.nextInt(adv.length)];
            } else if (k == 4 && withNaN) {
                x[i] = rnd.nextBoolean() ? Float.NaN : Float.intBitsToFloat(0xFFC00001);
            } else if (k == 5) {
                x[i] = Float.intBitsToFloat(rnd.nextInt());
                if (!withNaN && Float.isNaN(x[i])) {
                    x[i] = 1f;
                }
            } else {
                x[i] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian()));
            }
        }
        return x;
    }

    /** Multipliers: mostly 1 (so y hits the adversarial values exactly), powers of two, arbitrary. */
    static float[] multipliers(SplittableRandom rnd, int n) {
        float[] m = new float[n];
        for (int i = 0; i < n; i++) {
            int k = rnd.nextInt(6);
            m[i] = k < 3 ? 1f : k < 5 ? Math.scalb(1f, rnd.nextInt(-6, 7)) : (float) rnd.nextDouble(0.1, 10);
        }
        return m;
    }

    static void assertBits(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                throw new AssertionError(what + ": element " + i + " scalar " + expected[i] + " vector " + actual[i]
                        + " (" + Simd.describe() + ")");
            }
        }
    }

    @Test
    void absMaxEqualsScalar() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (int n : LENGTHS) {
            for (int rep = 0; rep < 20; rep++) {
                boolean nan = rep % 4 == 0;
                float[] x = data(rnd, n + 3, nan);
                int off = rep % 3;
                float a = QuantKernels.absMax(x, off, n);
                float b = QuantKernels.absMaxScalar(x, off, n);
                assertEquals(Float.floatToRawIntBits(b), Float.floatToRawIntBits(a), "n " + n);
                float[] accA = data(rnd, n + 2, nan);
                for (int i = 0; i < accA.length; i++) {
                    accA[i] = Math.abs(accA[i]);
                }
                float[] accB = accA.clone();
                QuantKernels.absMaxInto(x, off, accA, 1, n);
                QuantKernels.absMaxIntoScalar(x, off, accB, 1, n);
                assertBits(accB, accA, "absMaxInto n " + n);
            }
        }
        float[] zeros = new float[40];
        zeros[3] = -0f;
        assertEquals(0f, QuantKernels.absMax(zeros, 0, 40));
    }

    @Test
    void encodeEqualsScalar() {
        SplittableRandom rnd = new SplittableRandom(2);
        for (Rounding r : ROUNDINGS) {
            for (int n : LENGTHS) {
                for (int rep = 0; rep < 12; rep++) {
                    float[] x = data(rnd, n + 4, true);
                    float[] m = multipliers(rnd, n + 4);
                    int xOff = rep % 4;
                    int index = rnd.nextInt(0, 1000) + (rep & 1); // odd and even starting nibbles
                    byte[] a = new byte[(index + n) / 2 + 3];
                    for (int i = 0; i < a.length; i++) {
                        a[i] = (byte) rnd.nextInt(); // the neighbouring nibbles must survive
                    }
                    byte[] b = a.clone();
                    QuantKernels.encode(x, xOff, m, 1, n, r, a, index);
                    QuantKernels.encodeScalar(x, xOff, m, 1, n, r, b, index);
                    assertArrayEquals(b, a, r + " n " + n + " index " + index + " (" + Simd.describe() + ")");
                }
            }
        }
    }

    @Test
    void scalarEncodeTwinMatchesTheFormat() {
        // The kernels' scalar twin agrees with E2M1's reference encoders on every non-NaN value.
        SplittableRandom rnd = new SplittableRandom(3);
        float[] x = data(rnd, 5000, false);
        float[] one = new float[x.length];
        java.util.Arrays.fill(one, 1f);
        Rounding sr = Rounding.stochastic(12);
        byte[] rne = new byte[x.length / 2];
        byte[] hu = new byte[x.length / 2];
        byte[] st = new byte[x.length / 2];
        QuantKernels.encodeScalar(x, 0, one, 0, x.length, Rounding.RNE, rne, 0);
        QuantKernels.encodeScalar(x, 0, one, 0, x.length, Rounding.HALF_UP, hu, 0);
        QuantKernels.encodeScalar(x, 0, one, 0, x.length, sr, st, 0);
        for (int i = 0; i < x.length; i++) {
            assertEquals(E2M1.encode(x[i]), E2M1.codeAt(rne, i), "RNE " + x[i]);
            assertEquals(E2M1.encodeHalfUp(x[i]), E2M1.codeAt(hu, i), "HALF_UP " + x[i]);
            assertEquals(E2M1.encodeStochastic(x[i], sr.uniform(i)), E2M1.codeAt(st, i), "SR " + x[i]);
        }
    }

    @Test
    void encodeBlocksEqualsScalar() {
        SplittableRandom rnd = new SplittableRandom(9);
        for (Rounding r : ROUNDINGS) {
            for (int n : LENGTHS) {
                for (int blockCols : new int[] {16, 32, 64, 5, 1, 1000}) {
                    for (int rep = 0; rep < 3; rep++) {
                        float[] x = data(rnd, n + 3, true);
                        float[] next = data(rnd, n + 2, rep == 0);
                        int blocks = n == 0 ? 0 : (n + blockCols - 1) / blockCols;
                        float[] bm = multipliers(rnd, blocks + 1);
                        int index = 2 * rnd.nextInt(0, 100) + (rep == 2 ? 1 : 0); // odd start: scalar path
                        byte[] a = new byte[(index + n) / 2 + 2];
                        rnd.nextBytes(a);
                        byte[] b = a.clone();
                        float[] amaxA = new float[blocks + 2];
                        float[] amaxB = new float[blocks + 2];
                        boolean withNext = rep != 1;
                        QuantKernels.encodeBlocks(x, 3, n, blockCols, bm, 1, r, a, index, withNext ? next : null, 2,
                                amaxA, 1);
                        QuantKernels.encodeBlocksScalar(x, 3, n, blockCols, bm, 1, r, b, index,
                                withNext ? next : null, 2, amaxB, 1);
                        String what = r + " n " + n + " blockCols " + blockCols + " index " + index;
                        assertArrayEquals(b, a, what);
                        assertBits(amaxB, amaxA, what);
                    }
                }
            }
        }
    }

    @Test
    void decodeEqualsScalar() {
        SplittableRandom rnd = new SplittableRandom(4);
        for (int n : LENGTHS) {
            for (int rep = 0; rep < 12; rep++) {
                int index = rnd.nextInt(0, 50) + (rep & 1);
                byte[] src = new byte[(index + n + 1) / 2 + rnd.nextInt(3)];
                rnd.nextBytes(src);
                float[] a = new float[n + 5];
                float[] b = new float[n + 5];
                QuantKernels.decode(src, index, n, a, 2);
                QuantKernels.decodeScalar(src, index, n, b, 2);
                assertBits(b, a, "decode n " + n + " index " + index);
                for (int i = 0; i < n; i++) {
                    assertEquals(Float.floatToRawIntBits(E2M1.decode(E2M1.codeAt(src, index + i))),
                            Float.floatToRawIntBits(b[2 + i]));
                }
            }
        }
    }

    /**
     * Four Over Six's squared errors, through the fakeQuantize kernel (vector or scalar), equal the
     * plain E2M1 formula of the scalar twin bit for bit on adversarial and
     * random x (±∞ included; NaN is rejected before this kernel runs), multipliers of both candidates (× 1.5 apart), the Float.MAX_VALUE
     * multiplier of an underflowed scale with s = 0, and odd lengths.
     */
    @Test
    void fourOverSixSquaredErrorsEqualScalar() {
        SplittableRandom rnd = new SplittableRandom(46);
        float denom = 6f * ScaleRule.FOUR_OVER_SIX_E4M3_MAX;
        for (int n : LENGTHS) {
            for (int rep = 0; rep < 12; rep++) {
                float[] x = data(rnd, n + 3, false);
                float m = rep == 5 ? Float.MAX_VALUE : (float) rnd.nextDouble(0.01, 100) * (rep % 2 == 0 ? 1f : 1.5f);
                float s = rep == 5 ? 0f : (float) rnd.nextDouble(0.01, 448);
                float amaxT = rep == 7 ? 0f : (float) Math.exp(rnd.nextGaussian() * 3);
                float[] a = new float[n + 2];
                float[] b = new float[n + 2];
                float[] ms = new float[n];
                float[] ss = new float[n];
                java.util.Arrays.fill(ms, m);
                java.util.Arrays.fill(ss, s);
                QuantKernels.fourOverSixSquaredErrors(x, 3, n, ms, 0, ss, 0, amaxT, denom, a, 1);
                QuantKernels.fourOverSixSquaredErrorsScalar(x, 3, n, m, s, amaxT, denom, b, 1);
                assertBits(b, a, "4over6 n " + n + " rep " + rep);
            }
        }
    }

    @Test
    void fakeQuantizeEqualsScalar() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (Rounding r : ROUNDINGS) {
            for (int n : LENGTHS) {
                for (int rep = 0; rep < 8; rep++) {
                    float[] x = data(rnd, n + 4, true);
                    float[] m = multipliers(rnd, n + 4);
                    float[] s = multipliers(rnd, n + 4);
                    if (rep == 3 && n > 0) {
                        s[rnd.nextInt(n)] = Float.NaN; // an MX NaN block
                    }
                    float t = rep % 2 == 0 ? 1f : 1f / 224f;
                    int index = rnd.nextInt(0, 100);
                    float[] a = x.clone();
                    float[] b = x.clone();
                    QuantKernels.fakeQuantize(a, 1, m, 2, s, 0, n, t, r, index);
                    QuantKernels.fakeQuantizeScalar(b, 1, m, 2, s, 0, n, t, r, index);
                    assertBits(b, a, r + " n " + n);
                }
            }
        }
    }

    @Test
    void scaleAndMultiplyEqualScalar() {
        SplittableRandom rnd = new SplittableRandom(6);
        for (int n : LENGTHS) {
            float[] x = data(rnd, n + 2, true);
            float[] s = multipliers(rnd, n + 2);
            float[] a = x.clone();
            float[] b = x.clone();
            QuantKernels.scale(a, 1, n, 0.37f);
            QuantKernels.scaleScalar(b, 1, n, 0.37f);
            assertBits(b, a, "scale n " + n);
            QuantKernels.multiply(a, 1, s, 0, n);
            QuantKernels.multiplyScalar(b, 1, s, 0, n);
            assertBits(b, a, "multiply n " + n);
        }
    }

    /**
     * The same comparisons repeated until the JIT compiles the kernels with C2 (where the Vector
     * API is intrinsified: the short tests above may run interpreted, on the API's Java fallback).
     */
    @Test
    void kernelsStayEqualOnceCompiled() {
        SplittableRandom rnd = new SplittableRandom(8);
        int n = 203;
        float[] x = data(rnd, n, true);
        float[] m = multipliers(rnd, n);
        float[] s = multipliers(rnd, n);
        byte[] src = new byte[n];
        rnd.nextBytes(src);
        byte[] a = new byte[n];
        byte[] b = new byte[n];
        float[] fa = new float[n];
        float[] fb = new float[n];
        for (int iter = 0; iter < 6000; iter++) {
            Rounding r = ROUNDINGS.get(iter & 3);
            int index = iter & 7;
            int len = n - 8 - (iter % 5);
            QuantKernels.encode(x, 0, m, 0, len, r, a, index);
            QuantKernels.encodeScalar(x, 0, m, 0, len, r, b, index);
            QuantKernels.decode(src, index, len, fa, 0);
            QuantKernels.decodeScalar(src, index, len, fb, 0);
            if (iter % 50 == 0 || iter > 5990) {
                assertArrayEquals(b, a, "encode iteration " + iter);
                assertBits(fb, fa, "decode iteration " + iter);
            }
            System.arraycopy(x, 0, fa, 0, n);
            System.arraycopy(x, 0, fb, 0, n);
            QuantKernels.fakeQuantize(fa, 0, m, 0, s, 0, len, 1f, r, index);
            QuantKernels.fakeQuantizeScalar(fb, 0, m, 0, s, 0, len, 1f, r, index);
            QuantKernels.encodeBlocks(x, 0, 192, 32, s, 0, r, a, 2 * index, m, 1, fa, 0);
            QuantKernels.encodeBlocksScalar(x, 0, 192, 32, s, 0, r, b, 2 * index, m, 1, fb, 0);
            if (iter % 50 == 0 || iter > 5990) {
                assertArrayEquals(b, a, "encodeBlocks iteration " + iter);
                assertBits(java.util.Arrays.copyOf(fb, 6), java.util.Arrays.copyOf(fa, 6), "encodeBlocks amax " + iter);
            }
            float ma = QuantKernels.absMax(x, index, len);
            float mb = QuantKernels.absMaxScalar(x, index, len);
            if (iter % 50 == 0 || iter > 5990) {
                assertBits(fb, fa, "fakeQuantize iteration " + iter);
                assertEquals(Float.floatToRawIntBits(mb), Float.floatToRawIntBits(ma));
            }
            if (iter % 1000 == 0) {
                x = data(rnd, n, (iter & 1000) == 0);
            }
        }
    }

    @Test
    void allZeroRowsAndOddColumnCountsThroughFp4Tensor() {
        // Rows straddling a byte (odd cols), all-zero rows, all schemes and roundings: the tensor
        // built with the vector kernels equals one built element by element from the definition.
        SplittableRandom rnd = new SplittableRandom(7);
        for (Fp4Scheme s : Fp4TensorTest.schemes()) {
            for (int[] shape : new int[][] {{3, 1}, {5, 33}, {9, 65}, {17, 17}, {4, 100}}) {
                int rows = shape[0];
                int cols = shape[1];
                float[] x = data(rnd, rows * cols, false);
                for (int i = 0; i < x.length; i++) {
                    if (Float.isInfinite(x[i])) {
                        x[i] = Math.copySign(1e30f, x[i]); // the non-MX schemes reject infinities
                    }
                }
                java.util.Arrays.fill(x, cols, Math.min(x.length, 2 * cols), 0f); // row 1 all zero
                Fp4Tensor t = Fp4Tensor.quantize(x, rows, cols, s);
                float[] d = t.dequantize();
                Rounding r = s.rounding();
                for (int row = 0; row < rows; row++) {
                    for (int c = 0; c < cols; c++) {
                        int i = row * cols + c;
                        float sc = t.scale(row, c);
                        if (Float.isNaN(sc)) {
                            assertEquals(0, t.code(row, c));
                            continue;
                        }
                        float m = multiplierOf(s, sc, x, rows, cols, row, c);
                        float y = x[i] * m;
                        int want = switch (r.mode()) {
                            case NEAREST_EVEN -> E2M1.encode(y);
                            case HALF_UP -> E2M1.encodeHalfUp(y);
                            case STOCHASTIC -> E2M1.encodeStochastic(y, r.uniform(i));
                        };
                        assertEquals(want, t.code(row, c), s + " at " + row + "," + c);
                        assertEquals(E2M1.decode(want) * sc * t.tensorScale(), d[i]);
                    }
                }
            }
        }
    }

    /** The encode multiplier of an element, recomputed from its block's amax by the rule's formulas. */
    private static float multiplierOf(Fp4Scheme s, float scale, float[] x, int rows, int cols,
            int row, int col) {
        int br = s.blockRows() == 0 ? rows : s.blockRows();
        int bc = s.blockCols() == 0 ? cols : s.blockCols();
        int r0 = row / br * br;
        int c0 = col / bc * bc;
        float amax = 0f;
        for (int r = r0; r < Math.min(rows, r0 + br); r++) {
            for (int c = c0; c < Math.min(cols, c0 + bc); c++) {
                amax = Math.max(amax, Math.abs(x[r * cols + c]));
            }
        }
        if (s.scaleRule().isTwoLevel()) {
            return ScaleRule.nvfp4Multiplier(scale, ScaleRule.nvfp4EncodeScale(tensorAmax(x)));
        }
        return s.scaleRule().multiplier(amax);
    }

    private static float tensorAmax(float[] x) {
        float a = 0f;
        for (float v : x) {
            a = Math.max(a, Math.abs(v));
        }
        return a;
    }
}
