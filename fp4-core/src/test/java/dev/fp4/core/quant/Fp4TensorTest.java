package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.format.BF16;
import dev.fp4.core.format.E2M1;
import dev.fp4.core.format.E8M0;
import dev.fp4.core.gemm.Gemm;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class Fp4TensorTest {

    static float[] bf16(double... v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = BF16.round((float) v[i]);
        }
        return out;
    }

    static void assertBitsEqual(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            int e = Float.floatToRawIntBits(expected[i]);
            int a = Float.floatToRawIntBits(actual[i]);
            if (e != a) {
                throw new AssertionError(what + ": element " + i + " expected " + expected[i] + " (0x"
                        + Integer.toHexString(e) + ") got " + actual[i] + " (0x" + Integer.toHexString(a) + ")");
            }
        }
    }

    // ------------------------------------------------------------ the official check values

    @Test
    void officialPerTensorVector() {
        float[] x = bf16(0.001, 0.048, 0.0997, 0.1503, 0.2002, 0.2497, 0.2974, 0.30699, 0.4001);
        float[] expected = {0f, 0.0625f, 0.125f, 0.125f, 0.1875f, 0.25f, 0.25f, 0.25f, 0.375f};
        for (ScaleRule rule : List.of(ScaleRule.POWER_OF_TWO, ScaleRule.OFFICIAL_BF16)) {
            for (Rounding rounding : List.of(Rounding.RNE, Rounding.HALF_UP)) {
                Fp4Scheme s = Fp4Scheme.perTensor().withScaleRule(rule).withRounding(rounding);
                Fp4Tensor t = Fp4Tensor.quantize(x, 1, 9, s);
                assertBitsEqual(expected, t.dequantize(), s.name());
                // sf = 8: the stored (decode) scale is 1/8.
                assertArrayEquals(new float[] {0.125f}, t.scales());
            }
        }
    }

    @Test
    void officialPerColumnMatrix() {
        float[] x = bf16(-0.01, 0.48, -9.67, 1.623, -2.222, 24.67, -2.874, 3.699, -34.57, 0.85, -1.343, 18.88);
        float[] expected = {0f, 0.5f, -8f, 1.5f, -2f, 24f, -3f, 4f, -32f, 0.75f, -1.5f, 16f};
        // HALF_UP reproduces the official kernel bit for bit (-0.01*2 = -0.02 becomes +0).
        Fp4Scheme official = Fp4Scheme.perColumn().withScaleRule(ScaleRule.OFFICIAL_BF16).withRounding(Rounding.HALF_UP);
        Fp4Tensor t = Fp4Tensor.quantize(x, 4, 3, official);
        assertBitsEqual(expected, t.dequantize(), official.name());
        // sf = 2, 1, 1/8 by column; the scale is 1/sf.
        assertArrayEquals(new float[] {0.5f, 1f, 8f}, t.scales());
        assertEquals(1, t.scaleRows());
        assertEquals(3, t.scaleCols());
        // The default RNE scheme gives the same values, with -0 for -0.02 (RNE keeps the sign).
        float[] rne = Fp4Tensor.quantize(x, 4, 3, Fp4Scheme.perColumn()).dequantize();
        expected[0] = -0f;
        assertBitsEqual(expected, rne, "perColumn RNE");
    }

    // ------------------------------------------------------------ MX and NVFP4 by hand

    @Test
    void mxfp4ScaleRulesOnHandWorkedBlocks() {
        // Row of 96 = three 32-blocks. Block 0: amax 10 = 1.25*2^3. Block 1: amax 7 = 1.75*2^2.
        // Block 2: all zero.
        float[] x = new float[96];
        x[0] = 10f;
        x[1] = -2.6f;
        x[2] = 0.3f;
        x[32] = 7f;
        x[33] = -1.1f;
        x[34] = 0.74f;
        // FLOOR: X = 2^(floor(log2 amax) - 2). Block 0: 2^(3-2) = 2; 10/2 = 5 -> tie -> 4 -> 8;
        //   -2.6/2 = -1.3 -> -1.5 -> -3; 0.3/2 = 0.15 -> 0.
        // Block 1: 2^(2-2) = 1; 7 -> clips to 6; -1.1 -> -1; 0.74 -> 0.5 (0.74 < 0.75).
        Fp4Tensor floor = Fp4Tensor.quantize(x, 1, 96, Fp4Scheme.mxfp4());
        assertArrayEquals(new float[] {2f, 1f, 1f}, floor.scales());
        float[] d = floor.dequantize();
        assertEquals(8f, d[0]);
        assertEquals(-3f, d[1]);
        assertEquals(0f, d[2]);
        assertEquals(6f, d[32]);
        assertEquals(-1f, d[33]);
        assertEquals(0.5f, d[34]);
        // CEIL: X = 2^(ceil(log2 amax) - 2). Block 0: 2^(4-2) = 4; 10/4 = 2.5 -> tie -> 2 -> 8;
        //   -2.6/4 = -0.65 -> -0.5 -> -2; 0.3/4 = 0.075 -> 0.
        // Block 1: 2^(3-2) = 2; 7/2 = 3.5 -> tie -> 4 -> 8; -1.1/2 = -0.55 -> -0.5 -> -1; 0.74/2 = 0.37 -> 0.5 -> 1.
        Fp4Tensor ceil = Fp4Tensor.quantize(x, 1, 96, Fp4Scheme.mxfp4().withScaleRule(ScaleRule.MX_CEIL));
        assertArrayEquals(new float[] {4f, 2f, 1f}, ceil.scales());
        d = ceil.dequantize();
        assertArrayEquals(new float[] {8f, -2f, 0f}, new float[] {d[0], d[1], d[2]});
        assertArrayEquals(new float[] {8f, -1f, 1f}, new float[] {d[32], d[33], d[34]});
        // RCEIL: amax/6 rounded up to a power of two. Block 0: 10/6 = 1.67 -> 2. Block 1: 7/6 = 1.17 -> 2.
        Fp4Tensor rceil = Fp4Tensor.quantize(x, 1, 96, Fp4Scheme.mxfp4().withScaleRule(ScaleRule.MX_RCEIL));
        assertArrayEquals(new float[] {2f, 2f, 1f}, rceil.scales());
        // E8M0 codes of the FLOOR scales: 2 = 2^1 -> 128, 1 -> 127.
        assertEquals(128, E8M0.encode(floor.scales()[0]));
        assertEquals(127, E8M0.encode(floor.scales()[2]));
    }

    @Test
    void mxfp4NonFiniteBlockDecodesToNaN() {
        float[] x = new float[70];
        for (int i = 0; i < x.length; i++) {
            x[i] = i * 0.1f - 3f;
        }
        x[40] = Float.NaN;
        x[5] = Float.NEGATIVE_INFINITY;
        Fp4Tensor t = Fp4Tensor.quantize(x, 1, 70, Fp4Scheme.mxfp4());
        float[] s = t.scales();
        assertTrue(Float.isNaN(s[0]) && Float.isNaN(s[1]));
        // Block 2 holds 3.4 .. 3.9: amax 3.9 = 1.95*2^1, FLOOR scale 2^(1-2) = 0.5.
        assertEquals(0.5f, s[2]);
        float[] d = t.dequantize();
        for (int i = 0; i < 64; i++) {
            assertTrue(Float.isNaN(d[i]), "element " + i);
            assertEquals(0, t.code(0, i));
        }
        for (int i = 64; i < 70; i++) {
            assertTrue(Float.isFinite(d[i]));
        }
        assertEquals(E8M0.NAN, E8M0.encode(s[0]));
    }

    @Test
    void nvfp4HandWorked() {
        float[] x = new float[32];
        x[0] = 12f;
        x[1] = -3f;
        x[16] = 1.1f;
        x[17] = 0.5f;
        x[18] = -0.01f;
        Fp4Tensor t = Fp4Tensor.quantize(x, 1, 32, Fp4Scheme.nvfp4());
        // amax_tensor = 12: S_enc = 448*6/12 = 224, tensor scale = fl(1/224).
        assertEquals(1f / 224f, t.tensorScale());
        // Block 0: amax 12: 12*224/6 = 448 -> s_b = 448; encode factor 1/(448/224) = 0.5.
        //   12*0.5 = 6 -> 6; -3*0.5 = -1.5 -> -1.5.
        // Block 1: amax 1.1: fl(1.1*224) = 246.4, /6 = 41.07 -> E4M3 (step 4 in [32, 64)) -> 40;
        //   factor 1/(40/224) = 5.6; 1.1*5.6 = 6.16 -> 6; 0.5*5.6 = 2.8 -> 3; -0.01*5.6 -> -0.
        assertArrayEquals(new float[] {448f, 40f}, t.scales());
        assertEquals(7, t.code(0, 0));
        assertEquals(8 | 3, t.code(0, 1));
        assertEquals(7, t.code(0, 16));
        assertEquals(5, t.code(0, 17));
        assertEquals(8, t.code(0, 18));
        float ts = 1f / 224f;
        float[] d = t.dequantize();
        assertEquals(6f * 448f * ts, d[0]);
        assertEquals(-1.5f * 448f * ts, d[1]);
        assertEquals(6f * 40f * ts, d[16]);
        assertEquals(3f * 40f * ts, d[17]);
        assertEquals(1.1f, d[16], 0.03f); // 6*40/224 = 1.0714: within half a step (0.0893*... ) of 1.1
    }

    @Test
    void nvfp4TwoDimensionalBlocks() {
        int n = 32;
        float[] x = new float[n * n];
        // Block (0,0) amax 6, (0,1) amax 3, (1,0) amax 0.75, (1,1) all zero.
        x[5 * n + 7] = -6f;
        x[2 * n + 20] = 3f;
        x[17 * n + 1] = 0.75f;
        Fp4Tensor t = Fp4Tensor.quantize(x, n, n, Fp4Scheme.nvfp4_2d());
        assertEquals(2, t.scaleRows());
        assertEquals(2, t.scaleCols());
        // S_enc = 2688/6 = 448. s_b = E4M3(amax*448/6): 448, 224, 56; the zero block gets 0 (as TE stores it).
        assertArrayEquals(new float[] {448f, 224f, 56f, 0f}, t.scales());
        assertEquals(224f, t.scale(2, 20));
        assertEquals(56f, t.scale(31, 0));
        // Encode factors 1/(s_b/448) = 1, 2, 8: the three values land on codes -6, 6, 6; decoding
        // multiplies by s_b and the tensor scale fl(1/448), which is not exact.
        assertEquals(8 | 7, t.code(5, 7));
        assertEquals(7, t.code(2, 20));
        assertEquals(7, t.code(17, 1));
        float ts = 1f / 448f;
        assertEquals(ts, t.tensorScale());
        float[] d = t.dequantize();
        assertEquals(-6f * 448f * ts, d[5 * n + 7]);
        assertEquals(6f * 224f * ts, d[2 * n + 20]);
        assertEquals(6f * 56f * ts, d[17 * n + 1]);
    }

    // ------------------------------------------------------------ errors and edge cases

    @Test
    void nonFiniteInputIsRejectedNamingTheElement() {
        float[] x = new float[4 * 7];
        x[2 * 7 + 5] = Float.POSITIVE_INFINITY;
        x[3 * 7 + 1] = Float.NaN;
        for (Fp4Scheme s : List.of(Fp4Scheme.perTensor(), Fp4Scheme.perRow(), Fp4Scheme.perColumn(),
                Fp4Scheme.nvfp4(), Fp4Scheme.nvfp4_2d())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Fp4Tensor.quantize(x, 4, 7, s), s.name());
            assertTrue(e.getMessage().contains("row 2, col 5"), e.getMessage());
            float[] copy = x.clone();
            assertThrows(IllegalArgumentException.class, () -> Fp4Tensor.fakeQuantize(copy, 0, 4, 7, s));
            assertBitsEqual(x, copy, "fakeQuantize leaves rejected input unchanged");
        }
        // A rejected re-quantization leaves the tensor decoding to NaN (never half-updated data),
        // for the row pipeline (even cols) and the two-pass path (odd cols, per tensor) alike.
        for (Fp4Scheme s : List.of(Fp4Scheme.perRow(), Fp4Scheme.perTensor(), Fp4Scheme.nvfp4())) {
            for (int cols : new int[] {7, 32}) {
                float[] ok = new float[4 * cols];
                ok[3] = 2f;
                float[] bad = ok.clone();
                bad[2 * cols + 5] = Float.NaN;
                Fp4Tensor t = Fp4Tensor.quantize(ok, 4, cols, s);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.quantizeFrom(bad, 0));
                assertTrue(e.getMessage().contains("row 2, col 5"), e.getMessage());
                for (float v : t.dequantize()) {
                    assertTrue(Float.isNaN(v), s.name());
                }
                t.quantizeFrom(ok, 0);
                assertEquals(2f, t.dequantize()[3]);
            }
        }
    }

    @Test
    void shapeErrors() {
        Fp4Scheme s = Fp4Scheme.perRow();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Fp4Tensor.quantize(new float[10], 3, 4, s));
        assertTrue(e.getMessage().contains("10") && e.getMessage().contains("12"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Fp4Tensor.allocate(0, 4, s));
        assertThrows(IllegalArgumentException.class, () -> Fp4Tensor.allocate(3, -1, s));
        assertThrows(IllegalArgumentException.class, () -> Fp4Tensor.allocate(1 << 16, 1 << 16, s));
        Fp4Tensor t = Fp4Tensor.allocate(3, 4, s);
        assertThrows(IndexOutOfBoundsException.class, () -> t.quantizeFrom(new float[12], 1));
        assertThrows(IndexOutOfBoundsException.class, () -> t.code(3, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> t.decodeRow(0, 2, 3, new float[3], 0, true));
        assertThrows(IndexOutOfBoundsException.class, () -> t.dequantizeInto(new float[12], 1));
        assertThrows(IndexOutOfBoundsException.class, () -> Fp4Tensor.fakeQuantize(new float[12], 1, 3, 4, s));
        assertThrows(IllegalArgumentException.class, () -> Fp4Scheme.blocks(-1, 2, ScaleRule.MX_FLOOR));
    }

    @Test
    void allZeroGivesZeroCodesAndValues() {
        for (Fp4Scheme s : schemes()) {
            Fp4Tensor t = Fp4Tensor.quantize(new float[5 * 40], 5, 40, s);
            for (float v : t.scales()) {
                // NVFP4 stores 0 for an all-zero block, as Transformer Engine does; every other rule 1
                assertEquals(s.scaleRule() == ScaleRule.NVFP4 ? 0f : 1f, v, s.name());
            }
            // NVFP4's tensor scale is TE's fl(1/min(2688/0, FLT_MAX))
            assertEquals(s.scaleRule() == ScaleRule.NVFP4 ? 1f / Float.MAX_VALUE : 1f, t.tensorScale(), s.name());
            assertEquals(0f, t.dequantize()[17], s.name());
            for (byte b : t.packed()) {
                assertEquals(0, b, s.name());
            }
        }
    }

    @Test
    void allocateAndReuse() {
        SplittableRandom rnd = new SplittableRandom(3);
        Fp4Tensor t = Fp4Tensor.allocate(6, 33, Fp4Scheme.mxfp4());
        assertEquals(0f, t.dequantize()[7]);
        float[] big = new float[10 + 6 * 33];
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) rnd.nextGaussian();
        }
        t.quantizeFrom(big, 10);
        float[] x = java.util.Arrays.copyOfRange(big, 10, big.length);
        Fp4Tensor fresh = Fp4Tensor.quantize(x, 6, 33, Fp4Scheme.mxfp4());
        assertArrayEquals(fresh.packed(), t.packed());
        assertArrayEquals(fresh.scales(), t.scales());
    }

    @Test
    void schemesHaveTheDocumentedBlockShapes() {
        assertEquals(List.of(0, 0), shape(Fp4Scheme.perTensor()));
        assertEquals(List.of(1, 0), shape(Fp4Scheme.perRow()));
        assertEquals(List.of(0, 1), shape(Fp4Scheme.perColumn()));
        assertEquals(List.of(1, 32), shape(Fp4Scheme.mxfp4()));
        assertEquals(List.of(1, 16), shape(Fp4Scheme.nvfp4()));
        assertEquals(List.of(16, 16), shape(Fp4Scheme.nvfp4_2d()));
        assertEquals(ScaleRule.POWER_OF_TWO, Fp4Scheme.perRow().scaleRule());
        assertEquals(ScaleRule.MX_FLOOR, Fp4Scheme.mxfp4().scaleRule());
        assertEquals(ScaleRule.NVFP4, Fp4Scheme.nvfp4_2d().scaleRule());
        assertEquals(Rounding.RNE, Fp4Scheme.mxfp4().rounding());
        Fp4Scheme sr = Fp4Scheme.nvfp4().withRounding(Rounding.stochastic(9));
        assertEquals("nvfp4(NVFP4, SR(seed=9))", sr.name());
        assertEquals("perRow(EXACT, RNE)", Fp4Scheme.perRow().withScaleRule(ScaleRule.EXACT).toString());
        assertEquals(sr, Fp4Scheme.nvfp4().withRounding(Rounding.stochastic(9)));
        assertTrue(!sr.equals(Fp4Scheme.nvfp4()));
    }

    private static List<Integer> shape(Fp4Scheme s) {
        return List.of(s.blockRows(), s.blockCols());
    }

    // ------------------------------------------------------------ properties on random data

    static List<Fp4Scheme> schemes() {
        return List.of(Fp4Scheme.perTensor(), Fp4Scheme.perRow(), Fp4Scheme.perColumn(), Fp4Scheme.mxfp4(),
                Fp4Scheme.nvfp4(), Fp4Scheme.nvfp4_2d(), Fp4Scheme.perRow().withScaleRule(ScaleRule.EXACT),
                Fp4Scheme.perColumn().withScaleRule(ScaleRule.OFFICIAL_BF16).withRounding(Rounding.HALF_UP),
                Fp4Scheme.mxfp4().withScaleRule(ScaleRule.MX_CEIL), Fp4Scheme.mxfp4().withScaleRule(ScaleRule.MX_RCEIL),
                Fp4Scheme.blocks(1, 128, ScaleRule.POWER_OF_TWO), Fp4Scheme.blocks(3, 5, ScaleRule.MX_FLOOR),
                Fp4Scheme.perRow().withRounding(Rounding.stochastic(42)),
                Fp4Scheme.nvfp4().withRounding(Rounding.stochastic(7).withStream(3)));
    }

    static Stream<Fp4Scheme> schemeStream() {
        return schemes().stream();
    }

    static float[] randomMatrix(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            // Heavy-tailed rows with varied magnitudes, some exact zeros.
            double g = rnd.nextGaussian() * Math.exp(rnd.nextGaussian() * 2);
            x[i] = rnd.nextInt(20) == 0 ? 0f : (float) g;
        }
        return x;
    }

    @ParameterizedTest
    @MethodSource("schemeStream")
    void fakeQuantizeEqualsQuantizeThenDequantize(Fp4Scheme s) {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int[] shape : new int[][] {{1, 1}, {3, 7}, {17, 33}, {40, 64}, {5, 200}}) {
            int rows = shape[0];
            int cols = shape[1];
            float[] x = randomMatrix(rnd, rows * cols);
            float[] expected = Fp4Tensor.quantize(x, rows, cols, s).dequantize();
            float[] y = new float[x.length + 3];
            System.arraycopy(x, 0, y, 3, x.length);
            Fp4Tensor.fakeQuantize(y, 3, rows, cols, s);
            assertBitsEqual(expected, java.util.Arrays.copyOfRange(y, 3, y.length), s.name() + " " + rows + "x" + cols);
        }
    }

    @ParameterizedTest
    @MethodSource("schemeStream")
    void codesScalesAndDecodeRowAgree(Fp4Scheme s) {
        SplittableRandom rnd = new SplittableRandom(5);
        int rows = 19;
        int cols = 45;
        float[] x = randomMatrix(rnd, rows * cols);
        Fp4Tensor t = Fp4Tensor.quantize(x, rows, cols, s);
        float[] d = t.dequantize();
        byte[] packed = t.packed();
        assertEquals((rows * cols + 1) / 2, packed.length);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int code = t.code(r, c);
                assertEquals(code, E2M1.codeAt(packed, (long) r * cols + c));
                float want = E2M1.decode(code) * t.scale(r, c) * t.tensorScale();
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(d[r * cols + c]), s + " " + r + "," + c);
            }
            // Partial rows from odd and even starts, with and without block scales.
            for (int[] range : new int[][] {{0, cols}, {1, 10}, {7, 31}, {cols - 1, 1}, {4, 0}}) {
                float[] raw = new float[range[1] + 2];
                float[] scaled = new float[range[1] + 2];
                t.decodeRow(r, range[0], range[1], raw, 2, false);
                t.decodeRow(r, range[0], range[1], scaled, 2, true);
                for (int k = 0; k < range[1]; k++) {
                    int c = range[0] + k;
                    assertEquals(E2M1.decode(t.code(r, c)), raw[2 + k]);
                    assertEquals(E2M1.decode(t.code(r, c)) * t.scale(r, c), scaled[2 + k]);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("schemeStream")
    void scaledInputIsWhatTheRoundingSaw(Fp4Scheme s) {
        SplittableRandom rnd = new SplittableRandom(13);
        int rows = 9;
        int cols = 50;
        float[] x = randomMatrix(rnd, rows * cols);
        Fp4Tensor t = Fp4Tensor.quantize(x, rows, cols, s);
        float[] y = new float[rows * cols];
        t.scaledInput(x, 0, y, 0);
        Rounding r = s.rounding();
        for (int i = 0; i < y.length; i++) {
            int want = switch (r.mode()) {
                case NEAREST_EVEN -> E2M1.encode(y[i]);
                case HALF_UP -> E2M1.encodeHalfUp(y[i]);
                case STOCHASTIC -> E2M1.encodeStochastic(y[i], r.uniform(i));
            };
            assertEquals(want, t.code(i / cols, i % cols), s + " element " + i);
            if (s.scaleRule() != ScaleRule.EXACT && !s.scaleRule().isTwoLevel()) {
                assertEquals(x[i] / t.scale(i / cols, i % cols), y[i], 0f); // m = 1/s exactly
            }
        }
        // The stream overload of fakeQuantize equals the scheme with that stream.
        float[] a = x.clone();
        float[] b = x.clone();
        Fp4Tensor.fakeQuantize(a, 0, rows, cols, s, 9);
        Fp4Tensor.fakeQuantize(b, 0, rows, cols, s.withRounding(s.rounding().withStream(9)));
        assertBitsEqual(b, a, s.name());
    }

    @Test
    void rneErrorIsAtMostHalfAStepTimesTheScale() {
        SplittableRandom rnd = new SplittableRandom(21);
        float[] x = randomMatrix(rnd, 64 * 96);
        for (Fp4Scheme s : List.of(Fp4Scheme.perRow(), Fp4Scheme.perTensor(), Fp4Scheme.perColumn(),
                Fp4Scheme.mxfp4().withScaleRule(ScaleRule.MX_RCEIL), Fp4Scheme.mxfp4().withScaleRule(ScaleRule.MX_CEIL))) {
            Fp4Tensor t = Fp4Tensor.quantize(x, 64, 96, s);
            float[] d = t.dequantize();
            for (int r = 0; r < 64; r++) {
                for (int c = 0; c < 96; c++) {
                    float sc = t.scale(r, c);
                    // These rules keep |x/scale| <= 6 (no clipping), so y = x/scale is exact (power
                    // of two) and the E2M1 grid step at |y| is 0.5 below 2, 1 below 4, 2 up to 6.
                    double y = Math.abs((double) x[r * 96 + c] / sc);
                    assertTrue(y <= 6.0, s + " y=" + y);
                    double step = y < 2 ? 0.5 : y < 4 ? 1 : 2;
                    double err = Math.abs((double) d[r * 96 + c] - x[r * 96 + c]);
                    assertTrue(err <= step / 2 * sc, () -> s + " err " + err + " at " + y);
                }
            }
        }
    }

    @Test
    void fakeQuantizeIsIdempotentForPowerOfTwoRules() {
        SplittableRandom rnd = new SplittableRandom(8);
        for (Fp4Scheme s : List.of(Fp4Scheme.perRow(), Fp4Scheme.perTensor(), Fp4Scheme.perColumn(),
                Fp4Scheme.mxfp4(), Fp4Scheme.mxfp4().withScaleRule(ScaleRule.MX_CEIL),
                Fp4Scheme.perRow().withRounding(Rounding.HALF_UP))) {
            float[] x = randomMatrix(rnd, 12 * 70);
            Fp4Tensor.fakeQuantize(x, 0, 12, 70, s);
            float[] once = x.clone();
            Fp4Tensor.fakeQuantize(x, 0, 12, 70, s);
            assertBitsEqual(once, x, s.name());
        }
    }

    // ------------------------------------------------------------ stochastic rounding

    @Test
    void stochasticRoundingIsUnbiased() {
        // Each draw of y in [lo, hi) is lo or hi with P(hi) = p = (y - lo)/(hi - lo); the mean of
        // N draws has standard deviation (hi - lo)*sqrt(p(1-p)/N) <= (hi - lo)/(2 sqrt N).
        // With N = 2^17 and (hi - lo) <= 2 that is <= 0.00276; we allow 5 standard deviations
        // (two-sided false-alarm probability 6e-7; the seed is fixed anyway). The variates are
        // multiples of 2^-24 and the test values are chosen so that p*2^24 is an integer, where
        // the rounding is exactly unbiased.
        int n = 1 << 17;
        float[] values = {0.1f, 0.3f, 1.2f, -1.7f, 2.25f, -3.9f, 4.5f, 5.99f, 0.75f, 0.5f + 0x1p-20f};
        float[] mul = new float[n];
        java.util.Arrays.fill(mul, 1f);
        for (float v : values) {
            float[] x = new float[n];
            java.util.Arrays.fill(x, v);
            QuantKernels.fakeQuantizeScalar(x, 0, mul, 0, mul, 0, n, 1f, Rounding.stochastic(1234), 0);
            double sum = 0;
            for (float q : x) {
                sum += q;
            }
            double mean = sum / n;
            double lo = Math.floor(Math.abs(v) * 2) / 2; // neighbours differ by <= 2
            double bound = 5 * 2.0 / (2 * Math.sqrt(n));
            assertEquals(v, mean, bound, () -> "value " + v + " (lo " + lo + ")");
        }
        // Saturation: beyond 6 is always 6.
        float[] big = {7f, -100f, Float.POSITIVE_INFINITY};
        float[] one = {1f, 1f, 1f};
        QuantKernels.fakeQuantizeScalar(big, 0, one, 0, one, 0, 3, 1f, Rounding.stochastic(1), 0);
        assertArrayEquals(new float[] {6f, -6f, 6f}, big);
    }

    /**
     * Tensors of at least {@link Fp4Tensor#PARALLEL_MIN} elements quantize and decode in row pieces
     * over the pool: codes, scales and decoded values are the same bits with 1, 2 and 3 threads (3
     * puts piece ends elsewhere), for the row pipeline with RNE and stochastic rounding; a non-finite
     * element in a later piece is still named and leaves the tensor decoding to NaN.
     */
    @Test
    void rowPiecesGiveTheSameBitsForAnyThreadCount() {
        int before = Gemm.threads();
        try {
            SplittableRandom rnd = new SplittableRandom(31);
            int rows = 301;
            int cols = 256;
            assertTrue(rows * cols >= Fp4Tensor.PARALLEL_MIN);
            float[] x = randomMatrix(rnd, rows * cols);
            for (Fp4Scheme s : List.of(Fp4Scheme.perRow(), Fp4Scheme.perRow().withRounding(Rounding.stochastic(4)),
                    Fp4Scheme.mxfp4(), Fp4Scheme.nvfp4())) {
                Gemm.setThreads(1);
                Fp4Tensor one = Fp4Tensor.allocate(rows, cols, s);
                one.quantizeFrom(x, 0, 9);
                float[] oneDecoded = one.dequantize();
                for (int threads : new int[] {2, 3}) {
                    Gemm.setThreads(threads);
                    Fp4Tensor t = Fp4Tensor.allocate(rows, cols, s);
                    t.quantizeFrom(x, 0, 9);
                    assertArrayEquals(one.packed(), t.packed(), s.name() + " codes, " + threads + " threads");
                    assertBitsEqual(one.scales(), t.scales(), s.name() + " scales, " + threads + " threads");
                    assertBitsEqual(oneDecoded, t.dequantize(), s.name() + " decoded, " + threads + " threads");
                }
            }
            float[] bad = x.clone();
            bad[250 * cols + 7] = Float.NEGATIVE_INFINITY;
            Gemm.setThreads(3);
            Fp4Tensor t = Fp4Tensor.quantize(x, rows, cols, Fp4Scheme.perRow());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.quantizeFrom(bad, 0));
            assertTrue(e.getMessage().contains("row 250, col 7"), e.getMessage());
            for (float v : t.dequantize()) {
                assertTrue(Float.isNaN(v));
            }
        } finally {
            Gemm.setThreads(before);
        }
    }

    /**
     * dequantizeInto is a read method: two threads decoding one large (split) tensor at once into
     * their own arrays each get the whole, correct result.
     */
    @Test
    void concurrentDequantizeIntoOfOneTensorIsIndependent() throws InterruptedException {
        int before = Gemm.threads();
        try {
            Gemm.setThreads(2);
            SplittableRandom rnd = new SplittableRandom(41);
            int rows = 301;
            int cols = 256;
            float[] x = randomMatrix(rnd, rows * cols);
            Fp4Tensor t = Fp4Tensor.quantize(x, rows, cols, Fp4Scheme.perRow());
            float[] expected = t.dequantize();
            float[][] got = {new float[rows * cols], new float[rows * cols]};
            Throwable[] failure = new Throwable[1];
            Thread other = new Thread(() -> {
                try {
                    for (int rep = 0; rep < 200; rep++) {
                        java.util.Arrays.fill(got[1], Float.NaN);
                        t.dequantizeInto(got[1], 0);
                        assertBitsEqual(expected, got[1], "other thread, rep " + rep);
                    }
                } catch (Throwable e) {
                    failure[0] = e;
                }
            });
            other.start();
            for (int rep = 0; rep < 200; rep++) {
                java.util.Arrays.fill(got[0], Float.NaN);
                t.dequantizeInto(got[0], 0);
                assertBitsEqual(expected, got[0], "this thread, rep " + rep);
            }
            other.join();
            if (failure[0] != null) {
                throw new AssertionError(failure[0]);
            }
        } finally {
            Gemm.setThreads(before);
        }
    }

    @Test
    void stochasticRoundingIsReproducibleAndStreamsDiffer() {
        SplittableRandom rnd = new SplittableRandom(2);
        float[] x = randomMatrix(rnd, 8 * 50);
        Fp4Scheme s = Fp4Scheme.perRow().withRounding(Rounding.stochastic(77));
        Fp4Tensor a = Fp4Tensor.quantize(x, 8, 50, s);
        Fp4Tensor b = Fp4Tensor.quantize(x, 8, 50, s);
        assertArrayEquals(a.packed(), b.packed());
        Fp4Tensor c = Fp4Tensor.allocate(8, 50, s);
        c.quantizeFrom(x, 0, 5);
        Fp4Tensor d = Fp4Tensor.quantize(x, 8, 50, s.withRounding(Rounding.stochastic(77).withStream(5)));
        assertArrayEquals(d.packed(), c.packed());
        assertTrue(!java.util.Arrays.equals(a.packed(), c.packed()), "stream 5 draws other variates");
        Fp4Tensor e = Fp4Tensor.quantize(x, 8, 50, s.withRounding(Rounding.stochastic(78)));
        assertTrue(!java.util.Arrays.equals(a.packed(), e.packed()), "another seed draws other variates");
        // The variate depends only on (seed, stream, flat index).
        Rounding r = Rounding.stochastic(77);
        assertEquals(r.uniform(123), Rounding.stochastic(77).uniform(123));
        assertTrue(r.uniform(123) != r.withStream(1).uniform(123));
    }

    @Test
    void stochasticVariatesLookUniform() {
        // Chi-square over 64 bins of 2^18 variates: 63 degrees of freedom, mean 63, sd 11.2;
        // 130 is 6 sd above the mean.
        Rounding r = Rounding.stochastic(99).withStream(4);
        int[] bins = new int[64];
        int n = 1 << 18;
        for (int i = 0; i < n; i++) {
            float u = r.uniform(i);
            assertTrue(u >= 0f && u < 1f);
            bins[(int) (u * 64)]++;
        }
        double expected = n / 64.0;
        double chi2 = 0;
        for (int b : bins) {
            chi2 += (b - expected) * (b - expected) / expected;
        }
        assertTrue(chi2 < 130, "chi2 " + chi2);
    }
}
