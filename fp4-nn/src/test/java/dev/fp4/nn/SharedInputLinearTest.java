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

    /**
     * Two steps of a layer pair on one shared scratch (as in a model), the input changing between
     * them: the second layer's results equal those of a layer on its own scratch in both steps, so
     * nothing prepared in step 1 (X̂, ΔX, Q(X̂) of the weight gradient, Q(dY)) leaks into step 2.
     */
    @ParameterizedTest
    @ValueSource(strings = {"fp4-dge-occ", "fp4-direct", "fp4-modulewise", "fp8"})
    void nothingStaleAcrossSteps(String recipe) {
        PrecisionRecipe r = PrecisionRecipe.byName(recipe);
        int rows = 32;
        int in = 48;
        int out = 24;
        LinearPrecision pa = r.precision(LinearRole.ATTN_Q, 0, 2);
        LinearPrecision pb = r.precision(LinearRole.ATTN_K, 0, 2);
        Linear first = layer("a", LinearRole.ATTN_Q, pa, in, out, 1);
        Linear shared = layer("b", LinearRole.ATTN_K, pb, in, out, 2);
        Linear alone = layer("b", LinearRole.ATTN_K, pb, in, out, 2);
        LinearScratch common = new LinearScratch();
        first.shareScratch(common);
        shared.shareScratch(common);
        SplittableRandom rnd = new SplittableRandom(5);
        float[] x = new float[rows * in];
        for (int step = 0; step < 2; step++) {
            System.arraycopy(gaussian(rows * in, 1.0 + step, rnd), 0, x, 0, x.length); // same array, new values
            float[] dy = gaussian(rows * out, 0.1, rnd);
            float[] y = new float[rows * out];
            float[] yShared = new float[rows * out];
            float[] yAlone = new float[rows * out];
            first.forward(x, y, rows);
            shared.forward(x, yShared, rows, first);
            alone.forward(x, yAlone, rows);
            assertArrayEquals(yAlone, yShared, recipe + " step " + step + ": Y");
            // The first layer's backward first, so the second finds its Q(X̂) in the shared scratch.
            first.backward(dy, new float[rows * in], false);
            float[] dxShared = new float[rows * in];
            float[] dxAlone = new float[rows * in];
            shared.backward(dy, dxShared, false);
            alone.backward(dy, dxAlone, false);
            assertArrayEquals(dxAlone, dxShared, recipe + " step " + step + ": dX");
            assertArrayEquals(alone.weight().grad(), shared.weight().grad(), recipe + " step " + step + ": dW");
        }
    }
}
