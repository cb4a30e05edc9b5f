package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A linear layer multiplies its operands packed (E2M1 codes and scales, through {@code Fp4Gemm})
 * when both are FP4 with power-of-two scales, and gets exactly what FloatGemm gives on their
 * dequantized FP32 copies: Y, dX and dW are equal bit for bit with the packed products turned off,
 * for every recipe, alone and sharing its input with another layer; the count says which GeMMs ran
 * packed (NVFP4's FP32 tensor scale keeps its GeMMs on the FP32 copies).
 */
class PackedFp4ProductsTest {

    private static float[] gaussian(int n, double scale, SplittableRandom r) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * scale);
        }
        for (int i = 0; i < n / 50; i++) {           // outliers for the clamp and its compensation
            x[r.nextInt(n)] = (float) (r.nextGaussian() * 40 * scale);
        }
        return x;
    }

    private static Linear layer(String name, LinearRole role, LinearPrecision p, int in, int out, boolean packed) {
        Linear l = new Linear(name, role, 0, in, out);
        float[] w = gaussian(in * out, 0.05, new SplittableRandom(11));
        System.arraycopy(w, 0, l.weight().data(), 0, w.length);
        l.setPrecision(p);
        l.setRandomState(7, 3, 0);
        l.packedProducts = packed;
        return l;
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "fp32, FFN_GATE, 0", "bf16, FFN_GATE, 0", "fp8, FFN_GATE, 0",
        "fp4-direct, FFN_GATE, 1", "fp4-dge-occ, FFN_GATE, 1", "fp4-dge-occ, ATTN_Q, 1",
        "fp4-dge-occ-official, FFN_UP, 1", "fp4-modulewise, FFN_GATE, 1", "fp4-modulewise, ATTN_Q, 0",
        "mxfp4, FFN_DOWN, 3", "mxfp4-nvidia, ATTN_Q, 3", "nvfp4, FFN_GATE, 0", "nvfp4-4over6, FFN_UP, 0",
    })
    void packedProductsChangeNoBit(String recipe, LinearRole role, int packedGemms) {
        LinearPrecision p = PrecisionRecipe.byName(recipe).precision(role, 0, 8);
        int rows = 48;
        int in = 96;
        int out = 40;
        SplittableRandom rnd = new SplittableRandom(recipe.hashCode() + role.ordinal());
        float[] x = gaussian(rows * in, 1.0, rnd);
        float[] dy = gaussian(rows * out, 0.1, rnd);
        Linear[] layers = new Linear[4];                   // packed alone, packed shared, FP32 copies alone, shared
        float[][] y = new float[4][rows * out];
        float[][] dx = new float[4][rows * in];
        for (int v = 0; v < 4; v++) {
            boolean packed = v < 2;
            Linear first = v % 2 == 1 ? layer("first", role, p, in, out, packed) : null;
            if (first != null) {
                first.forward(x, new float[rows * out], rows);
            }
            layers[v] = layer("w", role, p, in, out, packed);
            layers[v].forward(x, y[v], rows, first);
            layers[v].backward(dy, dx[v], false);
        }
        for (int v = 1; v < 4; v++) {
            String what = recipe + " " + role + " variant " + v;
            assertArrayEquals(y[0], y[v], what + ": Y");
            assertArrayEquals(dx[0], dx[v], what + ": dX");
            assertArrayEquals(layers[0].weight().grad(), layers[v].weight().grad(), what + ": dW");
        }
        assertEquals(packedGemms, layers[0].lastPackedProducts, recipe + " " + role + ": GeMMs on packed operands");
        assertEquals(packedGemms, layers[1].lastPackedProducts, recipe + " " + role + " shared: GeMMs on packed operands");
        assertEquals(0, layers[2].lastPackedProducts);
    }
}
