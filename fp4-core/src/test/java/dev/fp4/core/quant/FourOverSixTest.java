package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.format.E4M3;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Four Over Six (arXiv 2512.02010), as Transformer Engine's reference computes it
 * ({@code NVFP4QuantizerRef._quantize_blockwise_4over6_reference}, error mode MSE, E4M3 bound 256):
 * a hand-worked block, and a transcription of TE's reference (its cast table, its operation order,
 * its 2-D row reduction) against {@link Fp4Tensor} bit for bit.
 */
class FourOverSixTest {

    @Test
    void aBlockThatFitsTheGridAtFourTakesTheMapToFourScale() {
        // One block {4, 3, 2, 1, 0, ...}: S_enc = 1536/4 = 384, d = (4/6)·384 = 256, so s6 = 256 and
        // s4 = 384. Map-to-6 multiplies by 1.5: 6, 4.5 -> 4 (tie to even), 3, 1.5: 3 decodes to 2.67.
        // Map-to-4 multiplies by 1: 4, 3, 2, 1 exactly, error 0: it is chosen.
        float[] x = new float[16];
        x[0] = 4f;
        x[1] = 3f;
        x[2] = 2f;
        x[3] = 1f;
        Fp4Tensor q = Fp4Tensor.quantize(x, 1, 16, Fp4Scheme.nvfp4FourOverSix());
        assertEquals(384f, q.scale(0, 0));
        assertEquals(1f / 384f, q.tensorScale());
        float[] back = q.dequantize();
        for (int i = 0; i < 4; i++) {
            assertEquals(x[i], back[i], 1e-6f, "element " + i);
        }
        Fp4Tensor plain = Fp4Tensor.quantize(x, 1, 16, Fp4Scheme.nvfp4());
        assertTrue(Math.abs(plain.dequantize()[1] - 3f) > 0.2f, "plain NVFP4 misses 3 by a grid step");
    }

    @Test
    void tiesGoToMapToSix() {
        float[] x = new float[32];
        x[0] = 1f;                          // block 0; block 1 is all zero: both errors 0
        Fp4Tensor q = Fp4Tensor.quantize(x, 1, 32, Fp4Scheme.nvfp4FourOverSix());
        assertEquals(0f, q.scale(0, 16));
    }

    /** Blocks of the last {@link #reference} calls that took the map-to-4 scale, and all blocks. */
    static int mapToFour;
    static int allBlocks;

    /** TE's reference, transcribed: codes and decode scales per element, and the global decode scale. */
    static Nvfp4TransformerEngineTest.Te reference(float[] x, int rows, int cols, int tileRows) {
        float globalAmax = 0f;
        for (float v : x) {
            globalAmax = Math.max(globalAmax, Math.abs(v));
        }
        float globalEncode = Math.min(256f * 6f / globalAmax, Float.MAX_VALUE);
        float globalDecode = 1f / globalEncode;
        int nb = cols / 16;
        float[][] vecMax = new float[rows][nb];
        for (int r0 = 0; r0 < rows; r0 += tileRows) {
            for (int b = 0; b < nb; b++) {
                float a = 0f;
                for (int r = r0; r < r0 + tileRows; r++) {
                    for (int c = b * 16; c < b * 16 + 16; c++) {
                        a = Math.max(a, Math.abs(x[r * cols + c]));
                    }
                }
                for (int r = r0; r < r0 + tileRows; r++) {
                    vecMax[r][b] = a;
                }
            }
        }
        int[] codes4 = new int[rows * cols];
        int[] codes6 = new int[rows * cols];
        float[][] err4 = new float[rows][nb];
        float[][] err6 = new float[rows][nb];
        float[][] sf4 = new float[rows][nb];
        float[][] sf6 = new float[rows][nb];
        float[] fp4 = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < nb; b++) {
                float base = (vecMax[r][b] / 6f) * globalEncode;
                sf4[r][b] = E4M3.round(Math.max(-448f, Math.min(448f, base * 1.5f)));
                sf6[r][b] = E4M3.round(Math.max(-448f, Math.min(448f, base)));
                float enc4 = Math.min(1f / (sf4[r][b] * globalDecode), Float.MAX_VALUE);
                float enc6 = Math.min(1f / (sf6[r][b] * globalDecode), Float.MAX_VALUE);
                for (int c = b * 16; c < b * 16 + 16; c++) {
                    float v = x[r * cols + c];
                    codes4[r * cols + c] = Nvfp4TransformerEngineTest.castToFp4(Math.max(-6f, Math.min(6f, v * enc4)));
                    codes6[r * cols + c] = Nvfp4TransformerEngineTest.castToFp4(Math.max(-6f, Math.min(6f, v * enc6)));
                }
                float denom = 6f * 256f;
                for (int c = b * 16; c < b * 16 + 16; c++) {
                    float v = x[r * cols + c];
                    float val4 = fp4[codes4[r * cols + c]] * sf4[r][b];
                    val4 = val4 * globalAmax;
                    val4 = val4 / denom;
                    float d4 = val4 - v;
                    err4[r][b] = err4[r][b] + d4 * d4;
                    float val6 = fp4[codes6[r * cols + c]] * sf6[r][b];
                    val6 = val6 * globalAmax;
                    val6 = val6 / denom;
                    float d6 = val6 - v;
                    err6[r][b] = err6[r][b] + d6 * d6;
                }
            }
        }
        int[] codes = new int[rows * cols];
        float[] scales = new float[rows * cols];
        for (int r0 = 0; r0 < rows; r0 += tileRows) {
            for (int b = 0; b < nb; b++) {
                boolean four;
                if (tileRows == 1) {
                    four = err4[r0][b] < err6[r0][b];
                } else {
                    four = tree(err4, r0, b) < tree(err6, r0, b);
                }
                mapToFour += four ? 1 : 0;
                allBlocks++;
                for (int r = r0; r < r0 + tileRows; r++) {
                    for (int c = b * 16; c < b * 16 + 16; c++) {
                        codes[r * cols + c] = four ? codes4[r * cols + c] : codes6[r * cols + c];
                        scales[r * cols + c] = four ? sf4[r][b] : sf6[r][b];
                    }
                }
            }
        }
        return new Nvfp4TransformerEngineTest.Te(codes, scales, globalDecode);
    }

    /** TE's _sum_4over6_2d_error: rows[0:8] + rows[8:16], then [0:4] + [4:8], [0:2] + [2:4], [0] + [1]. */
    private static float tree(float[][] e, int r0, int b) {
        float[] v = new float[16];
        for (int i = 0; i < 16; i++) {
            v[i] = e[r0 + i][b];
        }
        for (int n = 8; n >= 1; n /= 2) {
            for (int i = 0; i < n; i++) {
                v[i] = v[i] + v[i + n];
            }
        }
        return v[0];
    }

    @Test
    void matchesTransformerEnginesReferenceBitForBit() {
        SplittableRandom r = new SplittableRandom(46);
        int rows = 32, cols = 64;
        mapToFour = 0;
        allBlocks = 0;
        for (double magnitude : new double[] {1e-3, 1, 40}) {
            for (int t = 0; t < 20; t++) {
                float[] x = new float[rows * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (magnitude * r.nextGaussian() * (r.nextInt(40) == 0 ? 15 : 1));
                }
                assertMatchesTe(x, rows, cols);
            }
        }
        // both choices occur, so both are held to TE's
        assertTrue(mapToFour > 0 && mapToFour < allBlocks, mapToFour + " of " + allBlocks + " blocks took map-to-4");
    }

    /** Blocks whose scales underflow E4M3 (codes saturate, as in TE) and an all-zero tensor. */
    @Test
    void underflowedBlocksAndAllZeroTensorsMatchTransformerEngine() {
        float[] x = new float[16 * 32];
        for (int r = 0; r < 16; r++) {
            x[r * 32] = 5f;
            for (int c = 16; c < 32; c++) {
                x[r * 32 + c] = (float) ((r + c) % 3 - 1) * 1e-9f * (1 + c % 4);
            }
        }
        assertMatchesTe(x, 16, 32);
        assertMatchesTe(new float[16 * 32], 16, 32);
    }

    private static void assertMatchesTe(float[] x, int rows, int cols) {
        for (int tileRows : new int[] {1, 16}) {
            Fp4Scheme s = tileRows == 1 ? Fp4Scheme.nvfp4FourOverSix() : Fp4Scheme.nvfp4FourOverSix2d();
            Nvfp4TransformerEngineTest.Te te = reference(x, rows, cols, tileRows);
            Fp4Tensor q = Fp4Tensor.quantize(x, rows, cols, s);
            assertEquals(te.globalDecode(), q.tensorScale(), s.name() + " global decode scale");
            for (int i = 0; i < x.length; i++) {
                int row = i / cols, col = i % cols;
                assertEquals(te.scales()[i], q.scale(row, col), s.name() + " scale at " + i);
                assertEquals(te.codes()[i], q.code(row, col), s.name() + " code at " + i + " of " + x[i]);
            }
        }
    }
}
