package dev.fp4.core.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.format.BF16;
import dev.fp4.core.format.E2M1;
import dev.fp4.core.format.E4M3;
import dev.fp4.core.format.E5M2;
import dev.fp4.core.format.E8M0;
import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.core.gemm.Fp4Gemm;
import dev.fp4.core.gemm.Gemm;
import dev.fp4.core.quant.CsrMatrix;
import dev.fp4.core.quant.DifferentiableGradientEstimator;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.core.quant.Fp8Format;
import dev.fp4.core.quant.Fp8Quantizer;
import dev.fp4.core.quant.OutlierClamp;
import dev.fp4.core.quant.RandomHadamard;
import dev.fp4.core.quant.ScaleRule;
import dev.fp4.core.quant.StraightThroughEstimator;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every public entry point of fp4-core given a bad input: the exception type and what its message
 * must name. The table is printed by {@link BadInput#verify()} into the build log and summarised in
 * docs/reliability.md. Empty shapes are defined by {@link #emptyShapes()}.
 */
class CoreValidationTest {

    static float[] withAt(int n, int index, float v) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = 0.25f * (i % 7) - 0.5f;
        }
        x[index] = v;
        return x;
    }

    static List<BadInput> table() {
        List<BadInput> t = new ArrayList<>();
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        Class<IndexOutOfBoundsException> ioobe = IndexOutOfBoundsException.class;
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;

        // ---- formats
        t.add(BadInput.of("E2M1.decode(16)", iae, () -> E2M1.decode(16), "0..15", "16"));
        t.add(BadInput.of("E2M1.decode(-1)", iae, () -> E2M1.decode(-1), "0..15", "-1"));
        t.add(BadInput.of("E2M1.encode(NaN)", iae, () -> E2M1.encode(Float.NaN), "NaN"));
        t.add(BadInput.of("E2M1.encodeHalfUp(NaN)", iae, () -> E2M1.encodeHalfUp(Float.NaN), "NaN"));
        t.add(BadInput.of("E2M1.encodeStochastic(NaN, u)", iae, () -> E2M1.encodeStochastic(Float.NaN, 0.5f), "NaN"));
        t.add(BadInput.of("E2M1.pack(16, 0)", iae, () -> E2M1.pack(16, 0), "0..15", "16"));
        t.add(BadInput.of("E2M1.pack(codes) with a code 17", iae, () -> E2M1.pack(new int[] {1, 17, 2}), "17"));
        t.add(BadInput.of("E2M1.pack into a too short byte[]", ioobe, () -> E2M1.pack(new int[5], 0, 5, new byte[2], 0), "length 2"));
        t.add(BadInput.of("E2M1.unpack from a too short byte[]", ioobe, () -> E2M1.unpack(new byte[1], 0, 3, new int[3], 0), "length 1"));
        t.add(BadInput.of("E2M1.setCodeAt(code 16)", iae, () -> E2M1.setCodeAt(new byte[1], 0, 16), "16"));
        t.add(BadInput.of("E4M3.decode(256)", iae, () -> E4M3.decode(256), "0..255", "256"));
        t.add(BadInput.of("E5M2.decode(-1)", iae, () -> E5M2.decode(-1), "0..255", "-1"));
        t.add(BadInput.of("E8M0.decode(256)", iae, () -> E8M0.decode(256), "0..255", "256"));
        t.add(BadInput.of("E8M0.encode(3) (not a power of two)", iae, () -> E8M0.encode(3f), "powers of two", "3.0"));
        t.add(BadInput.of("E8M0.encode(0)", iae, () -> E8M0.encode(0f), "powers of two", "0.0"));
        t.add(BadInput.of("E8M0.encode(-2)", iae, () -> E8M0.encode(-2f), "-2.0"));
        t.add(BadInput.of("E8M0.encode(+inf)", iae, () -> E8M0.encode(Float.POSITIVE_INFINITY), "Infinity"));
        t.add(BadInput.of("E8M0.encode(2^-128) (below range)", iae, () -> E8M0.encode(0x1p-128f), "2^-127..2^127"));
        t.add(BadInput.of("E8M0.fromExponent(128)", iae, () -> E8M0.fromExponent(128), "-127..127", "128"));
        t.add(BadInput.of("E8M0.exponent(0xFF) (NaN code)", iae, () -> E8M0.exponent(0xFF), "NaN"));
        t.add(BadInput.of("BF16.decode(0x10000)", iae, () -> BF16.decode(0x10000), "0..0xFFFF", "0x10000"));
        t.add(BadInput.of("BF16.roundInPlace past the end", ioobe, () -> BF16.roundInPlace(new float[4], 2, 5), "length 4"));
        t.add(BadInput.of("BF16.roundInPlace(null)", npe, () -> BF16.roundInPlace(null, 0, 1)));

        // ---- schemes and scale rules
        t.add(BadInput.of("Fp4Scheme.blocks(-1, 32)", iae, () -> Fp4Scheme.blocks(-1, 32, ScaleRule.MX_FLOOR), ">= 0", "-1x32"));
        t.add(BadInput.of("Fp4Scheme.blocks(rule null)", npe, () -> Fp4Scheme.blocks(1, 32, null), "rule"));
        t.add(BadInput.of("Fp4Scheme.withRounding(null)", npe, () -> Fp4Scheme.perRow().withRounding(null), "rounding"));
        t.add(BadInput.of("ScaleRule.scale(-1)", iae, () -> ScaleRule.POWER_OF_TWO.scale(-1f), ">= 0", "-1.0"));
        t.add(BadInput.of("ScaleRule.POWER_OF_TWO.scale(+inf)", iae, () -> ScaleRule.POWER_OF_TWO.scale(Float.POSITIVE_INFINITY), "finite amax"));
        t.add(BadInput.of("ScaleRule.POWER_OF_TWO.multiplier(NaN)", iae, () -> ScaleRule.POWER_OF_TWO.multiplier(Float.NaN), "NaN"));
        t.add(BadInput.of("ScaleRule.NVFP4.scale(1) (two-level rule)", ise, () -> ScaleRule.NVFP4.scale(1f), "two-level"));
        t.add(BadInput.of("ScaleRule.nvfp4EncodeScale(NaN)", iae, () -> ScaleRule.nvfp4EncodeScale(Float.NaN), "NaN"));
        t.add(BadInput.of("ScaleRule.nvfp4BlockScale(-1, 1)", iae, () -> ScaleRule.nvfp4BlockScale(-1f, 1f), "-1.0"));

        // ---- Fp4Tensor
        Fp4Scheme row = Fp4Scheme.perRow();
        t.add(BadInput.of("Fp4Tensor.quantize(null)", npe, () -> Fp4Tensor.quantize(null, 2, 2, row), "x"));
        t.add(BadInput.of("Fp4Tensor.quantize(scheme null)", npe, () -> Fp4Tensor.quantize(new float[4], 2, 2, null), "scheme"));
        t.add(BadInput.of("Fp4Tensor.quantize length 3 for [2, 2]", iae, () -> Fp4Tensor.quantize(new float[3], 2, 2, row),
                "3 elements", "[2, 2]", "needs 4"));
        t.add(BadInput.of("Fp4Tensor.quantize [0, 4] (empty)", iae, () -> Fp4Tensor.quantize(new float[0], 0, 4, row), "positive", "[0, 4]"));
        t.add(BadInput.of("Fp4Tensor.quantize [4, 0] (empty)", iae, () -> Fp4Tensor.quantize(new float[0], 4, 0, row), "[4, 0]"));
        t.add(BadInput.of("Fp4Tensor.quantize [-2, -2]", iae, () -> Fp4Tensor.quantize(new float[4], -2, -2, row), "[-2, -2]"));
        t.add(BadInput.of("Fp4Tensor.allocate [65536, 65536] (over 2^31 elements)", iae,
                () -> Fp4Tensor.allocate(65536, 65536, row), "[65536, 65536]", "2^31"));
        for (Fp4Scheme s : List.of(Fp4Scheme.perTensor(), Fp4Scheme.perRow(), Fp4Scheme.perColumn(), Fp4Scheme.nvfp4(), Fp4Scheme.nvfp4_2d())) {
            float[] x = withAt(3 * 40, 2 * 40 + 17, Float.NaN);
            t.add(BadInput.of("Fp4Tensor.quantize NaN at (2, 17), " + s.name(), iae, () -> Fp4Tensor.quantize(x, 3, 40, s),
                    "NaN", "(row 2, col 17)", "[3, 40]"));
            float[] y = withAt(3 * 40, 40 + 5, Float.NEGATIVE_INFINITY);
            float[] copy = y.clone();
            t.add(BadInput.of("Fp4Tensor.fakeQuantize -inf at (1, 5), " + s.name(), iae, () -> Fp4Tensor.fakeQuantize(y, 0, 3, 40, s),
                    "-Infinity", "(row 1, col 5)").then(() -> assertArrayEquals(copy, y, "input left unchanged")));
        }
        Fp4Tensor reuse = Fp4Tensor.allocate(2, 8, row);
        t.add(BadInput.of("Fp4Tensor.quantizeFrom NaN: tensor left decoding to NaN", iae,
                () -> reuse.quantizeFrom(withAt(16, 9, Float.NaN), 0), "(row 1, col 1)")
                .then(() -> assertTrue(Float.isNaN(reuse.dequantize()[0]), "a rejected re-quantization must not look valid")));
        t.add(BadInput.of("Fp4Tensor.quantizeFrom past the end", ioobe, () -> reuse.quantizeFrom(new float[20], 6), "length 20"));
        t.add(BadInput.of("Fp4Tensor.quantizeFrom(null)", npe, () -> reuse.quantizeFrom(null, 0), "x"));
        t.add(BadInput.of("Fp4Tensor.dequantizeInto a short array", ioobe, () -> reuse.dequantizeInto(new float[15], 0), "length 15"));
        t.add(BadInput.of("Fp4Tensor.decodeRow row 2 of 2", ioobe, () -> reuse.decodeRow(2, 0, 8, new float[8], 0, true), "2"));
        t.add(BadInput.of("Fp4Tensor.decodeRow cols [4, 12) of 8", ioobe, () -> reuse.decodeRow(0, 4, 8, new float[8], 0, true), "length 8"));
        t.add(BadInput.of("Fp4Tensor.code(0, 8)", ioobe, () -> reuse.code(0, 8), "8"));
        t.add(BadInput.of("Fp4Tensor.fakeQuantize offset past the end", ioobe,
                () -> Fp4Tensor.fakeQuantize(new float[16], 4, 2, 8, row), "length 16"));

        // ---- FP8 fake quantization
        float[] f8 = withAt(10, 3, Float.POSITIVE_INFINITY);
        float[] f8copy = f8.clone();
        t.add(BadInput.of("Fp8Quantizer.fakeQuantize +inf at index 3", iae, () -> Fp8Quantizer.fakeQuantize(f8, 0, 10, Fp8Format.E4M3),
                "Infinity", "index 3").then(() -> assertArrayEquals(f8copy, f8, "input left unchanged")));
        float[] r8 = withAt(12, 6, Float.NaN);
        float[] r8copy = r8.clone();
        t.add(BadInput.of("Fp8Quantizer.fakeQuantizeRows NaN at (1, 2)", iae,
                () -> Fp8Quantizer.fakeQuantizeRows(r8, 0, 3, 4, Fp8Format.E5M2), "NaN", "(row 1, col 2)")
                .then(() -> assertArrayEquals(r8copy, r8, "input left unchanged")));
        t.add(BadInput.of("Fp8Quantizer.fakeQuantize(format null)", npe, () -> Fp8Quantizer.fakeQuantize(new float[2], 0, 2, null), "format"));
        // (the 5-argument overload allocates the scales first: NegativeArraySizeException, listed as a gap)
        t.add(BadInput.of("Fp8Quantizer.fakeQuantizeRows [-1, 4]", iae,
                () -> Fp8Quantizer.fakeQuantizeRows(new float[4], 0, -1, 4, Fp8Format.E4M3, new float[1], 0), "[-1, 4]"));
        t.add(BadInput.of("Fp8Quantizer.fakeQuantizeRows scales too short", ioobe,
                () -> Fp8Quantizer.fakeQuantizeRows(new float[12], 0, 3, 4, Fp8Format.E4M3, new float[2], 0), "length 2"));

        // ---- FloatGemm
        float[] a = new float[6];
        float[] b = new float[6];
        float[] c = new float[4];
        t.add(BadInput.of("FloatGemm.matmulNT(A null)", npe, () -> FloatGemm.matmulNT(null, 0, b, 0, c, 0, 2, 2, 3, false), "A"));
        t.add(BadInput.of("FloatGemm.matmulNT A of 6 for [2, 4]", iae, () -> FloatGemm.matmulNT(a, 0, new float[8], 0, c, 0, 2, 2, 4, false),
                "A [2, 4]", "needs 8", "has 6"));
        t.add(BadInput.of("FloatGemm.matmulNN B at offset 1", iae, () -> FloatGemm.matmulNN(a, 0, b, 1, c, 0, 2, 2, 3, false),
                "B [3, 2] at offset 1", "needs 6", "has 6"));
        t.add(BadInput.of("FloatGemm.matmulTN C too short", iae, () -> FloatGemm.matmulTN(a, 0, b, 0, new float[3], 0, 2, 2, 3, false),
                "C [2, 2]", "needs 4", "has 3"));
        t.add(BadInput.of("FloatGemm.matmulNT negative m", iae, () -> FloatGemm.matmulNT(a, 0, b, 0, c, 0, -1, 2, 3, false), "negative"));
        t.add(BadInput.of("FloatGemm.matmulNT negative offset", iae, () -> FloatGemm.matmulNT(a, -1, b, 0, c, 0, 2, 2, 3, false), "offset -1"));

        Fp4Tensor q64 = Fp4Tensor.quantize(new float[64 * 128], 64, 128, row);
        Fp4Tensor q32 = Fp4Tensor.quantize(new float[32 * 100], 32, 100, row);
        t.add(BadInput.of("Fp4Gemm.matmulNT A [64, 128] with B [32, 100]", iae, () -> Fp4Gemm.matmulNT(q64, q32, new float[64 * 32], 0, false),
                "[64, 128]", "[32, 100]"));
        t.add(BadInput.of("Fp4Gemm.matmulNN A [64, 128] with B [32, 100]", iae, () -> Fp4Gemm.matmulNN(q64, q32, new float[64 * 100], 0, false),
                "[64, 128]", "[32, 100]"));
        t.add(BadInput.of("Fp4Gemm.matmulTN A [64, 128] with B [32, 100]", iae, () -> Fp4Gemm.matmulTN(q64, q32, new float[128 * 100], 0, false),
                "[64, 128]", "[32, 100]"));
        t.add(BadInput.of("Fp4Gemm.matmulNT C too short", iae, () -> Fp4Gemm.matmulNT(q64, q64, new float[10], 0, false), "C", "has 10"));
        t.add(BadInput.of("Fp4Gemm.matmulNT FP32 B too short", iae, () -> Fp4Gemm.matmulNT(q64, new float[100], 0, 2, new float[128], 0, false),
                "B [2, 128]", "needs 256", "has 100"));
        t.add(BadInput.of("Gemm.setThreads(0)", iae, () -> Gemm.setThreads(0), "at least 1", "0"));

        // ---- outlier clamping and the residual
        t.add(BadInput.of("OutlierClamp alpha 0.5", iae, () -> new OutlierClamp(0.5, OutlierClamp.Granularity.PER_ROW), "(0.5, 1]", "0.5"));
        t.add(BadInput.of("OutlierClamp alpha NaN", iae, () -> new OutlierClamp(Double.NaN, OutlierClamp.Granularity.PER_ROW), "NaN"));
        t.add(BadInput.of("OutlierClamp granularity null", npe, () -> new OutlierClamp(0.99, null), "granularity"));
        float[] oc = withAt(2 * 50, 50 + 7, Float.NaN);
        float[] ocCopy = oc.clone();
        t.add(BadInput.of("OutlierClamp.clamp NaN at [1, 7]", iae, () -> new OutlierClamp().clamp(oc, 0, 2, 50), "NaN", "[1, 7]")
                .then(() -> assertArrayEquals(ocCopy, oc, "input left unchanged")));
        t.add(BadInput.of("OutlierClamp.clamp x too short", iae, () -> new OutlierClamp().clamp(new float[10], 0, 2, 8), "x [2, 8]", "needs 16", "has 10"));
        float[] shared = new float[40];
        t.add(BadInput.of("OutlierClamp.clamp out overlapping x", iae,
                () -> new OutlierClamp().clamp(shared, 0, 2, 10, shared, 3, null), "overlaps", "3 vs 0"));
        t.add(BadInput.of("OutlierClamp.clamp [-1, 3]", iae, () -> new OutlierClamp().clamp(new float[3], 0, -1, 3), "negative shape"));
        t.add(BadInput.of("OutlierClamp.bounds of empty groups", iae,
                () -> new OutlierClamp().bounds(new float[0], 0, 3, 0, new float[3], 0, new float[3], 0), "empty groups"));
        t.add(BadInput.of("CsrMatrix [-1, 2]", iae, () -> new CsrMatrix(-1, 2), "negative shape"));
        t.add(BadInput.of("CsrMatrix.append column 5 of 4", iae, () -> new CsrMatrix(1, 4).append(5, 1f), "column 5", "[0, 4)"));
        CsrMatrix csr = new CsrMatrix(2, 4);
        t.add(BadInput.of("CsrMatrix.append decreasing column", iae, () -> {
            csr.reset(2, 4);
            csr.append(2, 1f);
            csr.append(1, 1f);
        }, "increase", "1 after 2"));
        t.add(BadInput.of("CsrMatrix.multiplyNT incomplete", ise, () -> new CsrMatrix(2, 4).multiplyNT(new float[8], 0, 2, new float[4], 0, false),
                "incomplete", "0 of 2"));
        CsrMatrix full = CsrMatrix.fromDense(new float[8], 0, 2, 4);
        t.add(BadInput.of("CsrMatrix.multiplyNT W too short", iae, () -> full.multiplyNT(new float[7], 0, 2, new float[4], 0, false),
                "W [2, 4]", "needs 8", "has 7"));
        t.add(BadInput.of("CsrMatrix.fromDense too short", iae, () -> CsrMatrix.fromDense(new float[7], 0, 2, 4), "needs 8", "has 7"));

        // ---- Hadamard, gradient estimators
        t.add(BadInput.of("RandomHadamard size 24", iae, () -> new RandomHadamard(24, 1), "power of two", "24"));
        t.add(BadInput.of("RandomHadamard.forward cols 20 with size 16", iae, () -> new RandomHadamard(1).forward(new float[40], 0, 2, 20),
                "cols = 20", "multiple", "16"));
        t.add(BadInput.of("RandomHadamard.inverse x too short", iae, () -> new RandomHadamard(1).inverse(new float[16], 0, 2, 16),
                "[2, 16]", "needs 32", "has 16"));
        t.add(BadInput.of("RandomHadamard.withSigns(0.5)", iae, () -> RandomHadamard.withSigns(new float[] {1f, 0.5f}), "signs[1] = 0.5"));
        t.add(BadInput.of("DifferentiableGradientEstimator k = 0.5", iae, () -> new DifferentiableGradientEstimator(0.5f, 3f), "k", "0.5"));
        t.add(BadInput.of("DifferentiableGradientEstimator clip = 0", iae, () -> new DifferentiableGradientEstimator(5f, 0f), "clip", "0.0"));
        float[] grad = {1f, 2f, 3f};
        t.add(BadInput.of("GradientEstimator.applyTo NaN scaled weight at 2", iae,
                () -> new DifferentiableGradientEstimator().applyTo(grad, 0, new float[] {0f, 1f, Float.NaN}, 0, 3), "scaled weight 2", "NaN")
                .then(() -> assertArrayEquals(new float[] {1f, 2f, 3f}, grad, "gradient left unchanged")));
        t.add(BadInput.of("GradientEstimator.applyTo grad too short", iae,
                () -> StraightThroughEstimator.identity().applyTo(new float[2], 0, new float[3], 0, 3), "grad", "length 2"));
        t.add(BadInput.of("GradientEstimator.applyToScaled sf = inf", iae,
                () -> StraightThroughEstimator.clipped().applyToScaled(new float[2], 0, new float[2], 0, Float.POSITIVE_INFINITY, 2), "sf", "Infinity"));
        t.add(BadInput.of("GradientEstimator.applyToRowScaled weight*sf overflows at [1, 0]", iae,
                () -> new DifferentiableGradientEstimator().applyToRowScaled(new float[4], 0, new float[] {1, 1, 3e38f, 1}, 0,
                        new float[] {1f, 4f}, 0, 2, 2), "[1, 0]", "Infinity"));
        return t;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void badInputIsRejectedWithAMessageNamingIt(BadInput row) throws Throwable {
        row.verify();
    }

    /** Empty shapes: defined, not errors, except where a quantized tensor needs a block (Fp4Tensor). */
    @Test
    void emptyShapes() {
        float[] c = {7f, 7f, 7f, 7f};
        FloatGemm.matmulNT(new float[0], 0, new float[0], 0, c, 0, 2, 2, 0, false);    // k = 0: C = 0
        assertArrayEquals(new float[4], c);
        c = new float[] {7f, 7f, 7f, 7f};
        FloatGemm.matmulNN(new float[0], 0, new float[0], 0, c, 0, 2, 2, 0, true);     // k = 0, accumulate: C unchanged
        assertArrayEquals(new float[] {7f, 7f, 7f, 7f}, c);
        FloatGemm.matmulTN(new float[0], 0, new float[0], 0, new float[0], 0, 0, 0, 5, false); // m = n = 0: nothing
        assertEquals(1f, Fp8Quantizer.fakeQuantize(new float[0], 0, 0, Fp8Format.E4M3), "empty FP8 operand: scale 1");
        assertArrayEquals(new float[0], Fp8Quantizer.fakeQuantizeRows(new float[0], 0, 0, 5, Fp8Format.E4M3));
        CsrMatrix residual = new CsrMatrix(0, 0);
        assertEquals(0, new OutlierClamp().clamp(new float[0], 0, 0, 16, new float[0], 0, residual));
        assertTrue(residual.isComplete() && residual.rows() == 0 && residual.cols() == 16);
        assertEquals(0, new OutlierClamp(0.99, OutlierClamp.Granularity.PER_COLUMN).clamp(new float[0], 0, 4, 0));
        assertEquals(0, QuantKernelsView.absMax(new float[0]));
        new RandomHadamard(1).forward(new float[0], 0, 0, 16);
        BF16.roundInPlace(new float[0], 0, 0);
        assertArrayEquals(new byte[0], E2M1.pack());
    }

    /** The public kernel used above, named once. */
    static final class QuantKernelsView {
        static float absMax(float[] x) {
            return dev.fp4.core.quant.QuantKernels.absMax(x, 0, x.length);
        }
    }

    @Test
    void mxBlocksWithNonFiniteValuesDecodeToNaNAndOthersStayValid() {
        float[] x = withAt(2 * 64, 64 + 40, Float.POSITIVE_INFINITY);           // row 1, block 1 of 2
        Fp4Tensor t = Fp4Tensor.quantize(x, 2, 64, Fp4Scheme.mxfp4());
        float[] d = t.dequantize();
        for (int r = 0; r < 2; r++) {
            for (int col = 0; col < 64; col++) {
                boolean nanBlock = r == 1 && col >= 32;
                assertEquals(nanBlock, Float.isNaN(d[r * 64 + col]), "(" + r + ", " + col + ")");
                assertEquals(nanBlock, Float.isNaN(t.scale(r, col)));
            }
        }
        assertEquals(0xFF, E8M0.encode(t.scale(1, 40)), "the E8M0 NaN scale");
    }
}
