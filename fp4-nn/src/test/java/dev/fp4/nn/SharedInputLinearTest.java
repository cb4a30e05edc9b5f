package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fp4.nn.recipe.LinearPrecision;
import dev.fp4.nn.recipe.LinearRole;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A layer that takes X̂ and ΔX from another layer run on the same input ({@code forward(x, y, rows,
 * sameInput)}, as the key/value projections do with the query projection) produces exactly the
 * output and gradients it produces on its own, for every recipe: shared where the recipe allows it
 * (deterministic input format, same clamping), recomputed where it does not (stochastic rounding).
 */
class SharedInputLinearTest {

    private static float[] gaussian(int n, double scale, SplittableRandom r) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * scale);
        }
        // A few outliers, so the clamp (α = 0.99 per tensor) and its compensation have work.
        for (int i = 0; i < n / 50; i++) {
            x[r.nextInt(n)] = (float) (r.nextGaussian() * 40 * scale);
        }
        return x;
    }

    private static Linear layer(String name, LinearRole role, LinearPrecision p, int in, int out, long seed) {
        Linear l = new Linear(name, role, 0, in, out);
        float[] w = gaussian(in * out, 0.05, new SplittableRandom(seed));
        System.arraycopy(w, 0, l.weight().data(), 0, w.length);
        l.setPrecision(p);
        l.setRandomState(7, 3, 0);
        return l;
    }

    @ParameterizedTest
    @ValueSource(strings = {"fp32", "fp4-direct", "fp4-dge-occ", "fp4-dge-occ-official", "fp4-modulewise", "nvfp4", "mxfp4"})
    void sharingTheInputChangesNoBit(String recipe) {
        PrecisionRecipe r = PrecisionRecipe.byName(recipe);
        int rows = 48;
        int in = 64;
        int out = 40;
        SplittableRandom rnd = new SplittableRandom(recipe.hashCode());
        float[] x = gaussian(rows * in, 1.0, rnd);
        float[] dy = gaussian(rows * out, 0.1, rnd);
        for (LinearRole[] pair : new LinearRole[][] {{LinearRole.ATTN_Q, LinearRole.ATTN_K}, {LinearRole.FFN_GATE, LinearRole.FFN_UP}}) {
            LinearPrecision pa = r.precision(pair[0], 0, 2);
            LinearPrecision pb = r.precision(pair[1], 0, 2);
            Linear first = layer("a", pair[0], pa, in, out, 1);
            Linear shared = layer("b", pair[1], pb, in, out, 2);
            Linear alone = layer("b", pair[1], pb, in, out, 2);
            float[] y0 = new float[rows * out];
            float[] yShared = new float[rows * out];
            float[] yAlone = new float[rows * out];
            first.forward(x, y0, rows);
            shared.forward(x, yShared, rows, first);
            alone.forward(x, yAlone, rows);
            String what = recipe + " " + pair[1];
            assertArrayEquals(yAlone, yShared, what + ": Y");
            assertEquals(alone.clampedCount(), shared.clampedCount(), what + ": clamped count");
            boolean prepares = !pb.forward().a().isIdentity() || pb.clamping() != null;
            assertEquals(prepares && !pb.forward().a().usesRoundingStream(), shared.lastForwardShared(),
                    what + ": shared the prepared input");
            float[] dxShared = new float[rows * in];
            float[] dxAlone = new float[rows * in];
            shared.backward(dy, dxShared, false);
            alone.backward(dy, dxAlone, false);
            // The first layer's backward runs after, as in the model (reverse order), on the shared buffers.
            first.backward(dy, new float[rows * in], true);
            assertArrayEquals(dxAlone, dxShared, what + ": dX");
            assertArrayEquals(alone.weight().grad(), shared.weight().grad(), what + ": dW");
        }
    }
}
