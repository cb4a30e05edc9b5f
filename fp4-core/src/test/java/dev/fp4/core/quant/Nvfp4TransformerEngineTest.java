package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fp4.core.format.E4M3;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * NVFP4 block scales, tensor scale and codes against a Java transcription of Transformer Engine's
 * reference quantizer ({@code transformer_engine/pytorch/custom_recipes/reference_nvfp4.py},
 * {@code NVFP4QuantizerRef._quantize_blockwise_reference}, default path: no 4over6, no power-of-two
 * scales) and its {@code cast_to_fp4x2} threshold table, FP32 operations in TE's order. Bit for bit
 * on 1×16 and 16×16 tiles, over random tensors of several magnitudes, ties and zero blocks.
 *
 * <p>Blocks whose scale underflows E4M3 to 0 while their elements are not (codes ±6: the encode
 * multiplier is Float.MAX_VALUE and the products clip) and all-zero tensors (tensor scale
 * fl(1/Float.MAX_VALUE)) match too. One difference remains and is asserted as such: −0.0 gets code
 * 0 in TE's table (−0.0 ≥ 0.0) and 8 (−0) here, as in the OCP rule and torchao, which keep the sign.
 */
class Nvfp4TransformerEngineTest {

    /** TE's result: codes [rows, cols] and decode scales per element's block, plus the global decode scale. */
    record Te(int[] codes, float[] scales, float globalDecode) {
    }

    /** cast_to_fp4x2's table, one code per element. */
    static int castToFp4(float x) {
        if (x >= 0f && x <= 0.25f) {
            return 0;
        } else if (x > 0.25f && x < 0.75f) {
            return 1;
        } else if (x >= 0.75f && x <= 1.25f) {
            return 2;
        } else if (x > 1.25f && x < 1.75f) {
            return 3;
        } else if (x >= 1.75f && x <= 2.5f) {
            return 4;
        } else if (x > 2.5f && x < 3.5f) {
            return 5;
        } else if (x >= 3.5f && x <= 5.0f) {
            return 6;
        } else if (x > 5.0f) {
            return 7;
        } else if (x >= -0.25f && x < -0.0f) {
            return 8;
        } else if (x < -0.25f && x > -0.75f) {
            return 9;
        } else if (x <= -0.75f && x >= -1.25f) {
            return 10;
        } else if (x < -1.25f && x > -1.75f) {
            return 11;
        } else if (x <= -1.75f && x >= -2.5f) {
            return 12;
        } else if (x < -2.5f && x > -3.5f) {
            return 13;
        } else if (x <= -3.5f && x >= -5.0f) {
            return 14;
        }
        return 15;
    }

    /** The transcription: tileRows 1 or 16, tileCols 16; global amax over the tensor. */
    static Te reference(float[] x, int rows, int cols, int tileRows) {
        float globalAmax = 0f;
        for (float v : x) {
            globalAmax = Math.max(globalAmax, Math.abs(v));
        }
        // torch.div(448*6, amax), capped at the largest float (an all-zero tensor: ∞, so
        // Float.MAX_VALUE), 1 where that is 0
        float globalEncode = Math.min(448f * 6f / globalAmax, Float.MAX_VALUE);
        if (globalEncode == 0f) {
            globalEncode = 1f;
        }
        float globalDecode = 1f / globalEncode;
        float multiplier = globalEncode * (1f / 6f);                               // global_encode_scale * reciprocal(6)
        int[] codes = new int[rows * cols];
        float[] scales = new float[rows * cols];
        for (int r0 = 0; r0 < rows; r0 += tileRows) {
            for (int c0 = 0; c0 < cols; c0 += 16) {
                float vecMax = 0f;
                for (int r = r0; r < r0 + tileRows; r++) {
                    for (int c = c0; c < c0 + 16; c++) {
                        vecMax = Math.max(vecMax, Math.abs(x[r * cols + c]));
                    }
                }
                float decode = Math.min(vecMax * multiplier, Float.MAX_VALUE);
                decode = Math.max(-448f, Math.min(448f, decode));
                decode = E4M3.round(decode);                                        // .to(torch.float8_e4m3fn)
                float encode = Math.min(1f / (decode * globalDecode), Float.MAX_VALUE);
                for (int r = r0; r < r0 + tileRows; r++) {
                    for (int c = c0; c < c0 + 16; c++) {
                        float scaled = x[r * cols + c] * encode;
                        float clipped = Math.max(-6f, Math.min(6f, scaled));
                        codes[r * cols + c] = castToFp4(clipped);
                        scales[r * cols + c] = decode;
                    }
                }
            }
        }
        return new Te(codes, scales, globalDecode);
    }

    private static float[] random(SplittableRandom r, int n, double magnitude) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            // heavy-tailed: a few outliers per tensor, as activations have
            double g = r.nextGaussian();
            x[i] = (float) (magnitude * g * (r.nextInt(50) == 0 ? 20 : 1));
        }
        return x;
    }

    private static void assertMatches(float[] x, int rows, int cols, Fp4Scheme scheme, int tileRows, String what) {
        Te te = reference(x, rows, cols, tileRows);
        Fp4Tensor q = Fp4Tensor.quantize(x, rows, cols, scheme);
        assertEquals(te.globalDecode(), q.tensorScale(), what + ": global decode scale");
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                assertEquals(te.scales()[i], q.scale(r, c), what + ": block scale at (" + r + ", " + c + ")");
                assertEquals(te.codes()[i], q.code(r, c), what + ": code at (" + r + ", " + c + ") of " + x[i]);
            }
        }
    }

    @Test
    void oneBySixteenAndSixteenBySixteenTilesMatchTransformerEngine() {
        SplittableRandom r = new SplittableRandom(2025);
        for (double magnitude : new double[] {1e-3, 0.37, 1, 17, 3e4}) {
            for (int t = 0; t < 20; t++) {
                float[] x = random(r, 32 * 64, magnitude);
                assertMatches(x, 32, 64, Fp4Scheme.nvfp4(), 1, "1x16 magnitude " + magnitude);
                assertMatches(x, 32, 64, Fp4Scheme.nvfp4_2d(), 16, "16x16 magnitude " + magnitude);
            }
        }
    }

    @Test
    void tiesAndZeroBlocksMatchTransformerEngine() {
        // One block holds 6·k and the E2M1 midpoints times k, so that its scaled values land on the
        // ties of the table (0.25, 0.75, ... 5.0) when its scale is exact; the next block is all zero.
        float[] x = new float[2 * 32];
        float[] ties = {6f, 0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5f, -0.25f, -0.75f, -1.25f, -1.75f, -2.5f, -3.5f, -5f, -6f};
        for (int row = 0; row < 2; row++) {
            for (int i = 0; i < 16; i++) {
                x[row * 32 + i] = ties[i] * (row == 0 ? 1f : 0.5f);
            }
        }
        assertMatches(x, 2, 32, Fp4Scheme.nvfp4(), 1, "ties");
        Fp4Tensor q = Fp4Tensor.quantize(x, 2, 32, Fp4Scheme.nvfp4());
        assertEquals(0f, q.scale(0, 16), "an all-zero block stores scale 0, as TE does");
    }

    @Test
    void underflowedBlocksAndAllZeroTensorsMatchTransformerEngine() {
        // a block 1e-9 of the tensor's amax: its E4M3 scale underflows to 0, its codes saturate
        float[] x = new float[32];
        x[0] = 1f;
        for (int i = 16; i < 32; i++) {
            x[i] = (i % 2 == 0 ? 1 : -1) * 1e-9f * (1 + i % 5);
        }
        x[20] = 0f;
        assertMatches(x, 1, 32, Fp4Scheme.nvfp4(), 1, "underflowed block");
        Te te = reference(x, 1, 32, 1);
        Fp4Tensor q = Fp4Tensor.quantize(x, 1, 32, Fp4Scheme.nvfp4());
        assertEquals(0f, te.scales()[16]);
        float[] values = q.dequantize();
        for (int i = 16; i < 32; i++) {
            assertEquals(i == 20 ? 0 : i % 2 == 0 ? 7 : 15, q.code(0, i), "codes of the underflowed block saturate, as TE's");
            assertEquals(0f, Math.abs(values[i]), "and the block decodes to zero");
        }
        // 16×16: a tile far below the amax
        float[] y = new float[16 * 32];
        for (int r = 0; r < 16; r++) {
            y[r * 32] = 3f;
            for (int c = 16; c < 32; c++) {
                y[r * 32 + c] = (float) ((r + c) % 3 - 1) * 2e-9f;
            }
        }
        assertMatches(y, 16, 32, Fp4Scheme.nvfp4_2d(), 16, "underflowed 16x16 tile");
        // an all-zero tensor: TE's global encode scale is min(2688/0, FLT_MAX)
        float[] zeros = new float[2 * 32];
        assertMatches(zeros, 2, 32, Fp4Scheme.nvfp4(), 1, "all-zero tensor");
        assertMatches(new float[16 * 16], 16, 16, Fp4Scheme.nvfp4_2d(), 16, "all-zero 16x16 tensor");
        assertEquals(1f / Float.MAX_VALUE, Fp4Tensor.quantize(zeros, 2, 32, Fp4Scheme.nvfp4()).tensorScale());
    }

    @Test
    void negativeZeroKeepsItsSignHereAndNotInTransformerEnginesTable() {
        assertEquals(0, castToFp4(-0.0f), "TE's table gives -0.0 the code of +0");
        float[] x = {-0.0f, 1f, 0f, 2f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f};
        assertEquals(8, Fp4Tensor.quantize(x, 1, 16, Fp4Scheme.nvfp4()).code(0, 0), "here -0 is code 8, as in the OCP rule");
    }
}
