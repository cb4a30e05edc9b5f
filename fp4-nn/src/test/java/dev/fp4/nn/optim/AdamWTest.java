package dev.fp4.nn.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.TensorData;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class AdamWTest {

    private static AdamW.Settings paperAll(MomentPrecision p) {
        return AdamW.Settings.paper(p).withWeightDecay(0.1, WeightDecayRule.ALL);
    }

    /** Expected within 2 ulp of the expected value: the decayed weight and the final subtraction
     *  each round once (half an ulp each); the update itself (~0.01) carries a relative error of a
     *  few 2^-24, i.e. far below an ulp of w. */
    private static void assertNear(double expected, float actual, String what) {
        double tol = 2 * Math.ulp((float) expected);
        assertEquals(expected, actual, tol, what);
    }

    @Test
    void twoStepsMatchHandComputedArithmetic() {
        Parameter p = new Parameter("w", 3);
        p.data()[0] = 1.0f;
        p.data()[1] = -2.0f;
        p.data()[2] = 0.5f;
        AdamW opt = new AdamW(List.of(p), paperAll(MomentPrecision.FP32));
        double lr = 0.01;

        // Step 1, g = [0.1, -0.2, 0.0], β1 = 0.9, β2 = 0.95, λ = 0.1, ε = 1e-8:
        //   decay:  w·(1 − 0.01·0.1) = w·0.999            → [0.999, −1.998, 0.4995]
        //   m = 0.1·g                                    = [0.01, −0.02, 0]
        //   v = 0.05·g²                                  = [0.0005, 0.002, 0]
        //   1 − β1¹ = 0.1, 1 − β2¹ = 0.05 → m̂ = g, v̂ = g², √v̂ = |g|
        //   update = lr·m̂/(√v̂ + ε) = 0.01·0.1/(0.1 + 1e-8) = 0.0099999990000001
        //                            0.01·(−0.2)/(0.2 + 1e-8) = −0.0099999995
        //                            0 (m = 0)
        //   w = [0.999 − 0.009999999, −1.998 + 0.0099999995, 0.4995]
        //     = [0.989000001, −1.9880000005, 0.4995]
        p.grad()[0] = 0.1f;
        p.grad()[1] = -0.2f;
        p.grad()[2] = 0.0f;
        opt.step(lr);
        assertNear(0.989000001, p.data()[0], "w0 after step 1");
        assertNear(-1.9880000005, p.data()[1], "w1 after step 1");
        assertNear(0.4995, p.data()[2], "w2 after step 1");
        assertEquals(1, opt.stepCount());

        // Step 2, g = [0.3, 0.1, −0.4]:
        //   m = 0.9·[0.01, −0.02, 0] + 0.1·g     = [0.039, −0.008, −0.04]
        //   v = 0.95·[0.0005, 0.002, 0] + 0.05·g² = [0.000475 + 0.0045, 0.0019 + 0.0005, 0.008]
        //                                         = [0.004975, 0.0024, 0.008]
        //   1 − 0.9² = 0.19, 1 − 0.95² = 0.0975
        //   m̂ = [0.2052631579, −0.0421052632, −0.2105263158]
        //   v̂ = [0.0510256410, 0.0246153846, 0.0820512821], √v̂ = [0.2258885, 0.1568929, 0.2864459]
        //   update = 0.01·m̂/(√v̂ + ε) = [0.0090869210, −0.0026836943, −0.0073495998]
        //   w = 0.999·w − update:
        //     0.999·0.989000001 − 0.0090869210    = 0.9789240800
        //     0.999·(−1.9880000005) + 0.0026836943 = −1.9833283062
        //     0.999·0.4995 + 0.0073495998          = 0.5063500998
        p.grad()[0] = 0.3f;
        p.grad()[1] = 0.1f;
        p.grad()[2] = -0.4f;
        opt.step(lr);
        assertNear(0.9789240800, p.data()[0], "w0 after step 2");
        assertNear(-1.9833283062, p.data()[1], "w1 after step 2");
        assertNear(0.5063500998, p.data()[2], "w2 after step 2");
        float[] m = opt.firstMoment(0);
        float[] v = opt.secondMoment(0);
        // Moments in FP32 after a handful of float operations: within 4 ulp.
        double[] em = {0.039, -0.008, -0.04};
        double[] ev = {0.004975, 0.0024, 0.008};
        for (int i = 0; i < 3; i++) {
            assertEquals(em[i], m[i], 4 * Math.ulp((float) em[i]), "m" + i);
            assertEquals(ev[i], v[i], 4 * Math.ulp((float) ev[i]), "v" + i);
        }
    }

    @Test
    void biasCorrectionMakesTheFirstStepLrTimesSign() {
        // At t = 1, m̂ = g and v̂ = g² exactly (up to rounding), so the step is lr·g/(|g| + ε):
        // lr in magnitude for every |g| >> ε, whatever its scale.
        SplittableRandom rnd = new SplittableRandom(7);
        Parameter p = new Parameter("w", 64);
        for (int i = 0; i < 64; i++) {
            double mag = Math.pow(10, rnd.nextDouble(-2, 3));
            p.grad()[i] = (float) (rnd.nextBoolean() ? mag : -mag);
        }
        AdamW opt = new AdamW(List.of(p), AdamW.Settings.paper(MomentPrecision.FP32).withWeightDecay(0, WeightDecayRule.NONE));
        double lr = 1e-3;
        opt.step(lr);
        for (int i = 0; i < 64; i++) {
            double g = p.grad()[i];
            double expected = -lr * g / (Math.abs(g) + 1e-8);
            // relative error: ε/|g| <= 1e-6 is inside expected; rounding of m, v, √, /, · adds < 1e-6.
            assertEquals(expected, p.data()[i], 1e-6 * lr, "element " + i + ", g = " + g);
            assertEquals(lr, Math.abs(p.data()[i]), 2e-6 * lr);
        }
    }

    @Test
    void decoupledWeightDecayFollowsTheRule() {
        Parameter emb = new Parameter("tok_embeddings", 8, 4);
        Parameter wq = new Parameter("layers.0.attention.wq", 4, 4);
        Parameter norm = new Parameter("layers.0.attention_norm", 4);
        Parameter embW = new Parameter("embedding.weight", 8, 4);
        List<Parameter> ps = List.of(emb, wq, norm, embW);
        for (Parameter p : ps) {
            java.util.Arrays.fill(p.data(), 1.5f);
        }
        AdamW opt = new AdamW(ps, AdamW.Settings.paper(MomentPrecision.FP32));
        assertEquals(List.of(false, true, false, false), List.of(opt.decays(0), opt.decays(1), opt.decays(2), opt.decays(3)));
        // zero gradients: m = v = 0, the Adam term is 0/(0 + ε) = 0, only the decay acts.
        opt.step(0.5);
        float decayed = 1.5f * (float) (1 - 0.5 * 0.1);
        for (float x : wq.data()) {
            assertEquals(decayed, x);
        }
        for (Parameter p : List.of(emb, norm, embW)) {
            for (float x : p.data()) {
                assertEquals(1.5f, x, p.name() + " must not decay");
            }
        }
        assertTrue(WeightDecayRule.ALL.decays(norm));
        assertTrue(!WeightDecayRule.NONE.decays(wq));
    }

    @ParameterizedTest
    @EnumSource(MomentPrecision.class)
    void stateRoundTripContinuesBitForBit(MomentPrecision precision) {
        SplittableRandom rnd = new SplittableRandom(11);
        Parameter a = new Parameter("a.weight", 5, 7);
        Parameter b = new Parameter("b", 9);
        Parameter a2 = new Parameter("a.weight", 5, 7);
        Parameter b2 = new Parameter("b", 9);
        for (int i = 0; i < a.size(); i++) {
            a.data()[i] = a2.data()[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < b.size(); i++) {
            b.data()[i] = b2.data()[i] = (float) rnd.nextGaussian();
        }
        AdamW opt = new AdamW(List.of(a, b), paperAll(precision));
        long[] seeds = {1, 2, 3, 4, 5, 6};
        for (int s = 0; s < 3; s++) {
            randomGrads(List.of(a, b), seeds[s]);
            opt.step(1e-2);
        }
        Map<String, TensorData> state = opt.state();
        AdamW resumed = new AdamW(List.of(a2, b2), paperAll(precision));
        System.arraycopy(a.data(), 0, a2.data(), 0, a.size());
        System.arraycopy(b.data(), 0, b2.data(), 0, b.size());
        resumed.loadState(state);
        assertEquals(3, resumed.stepCount());
        for (int s = 3; s < 6; s++) {
            randomGrads(List.of(a, b), seeds[s]);
            randomGrads(List.of(a2, b2), seeds[s]);
            opt.step(1e-2);
            resumed.step(1e-2);
        }
        assertArrayEquals(a.data(), a2.data());
        assertArrayEquals(b.data(), b2.data());
        assertEquals(opt.state(), resumed.state());
    }

    @Test
    void loadStateRejectsMismatchAndLeavesStateUnchanged() {
        Parameter a = new Parameter("a", 4);
        AdamW opt = new AdamW(List.of(a), paperAll(MomentPrecision.FP8_FP16));
        randomGrads(List.of(a), 3);
        opt.step(0.1);
        Map<String, TensorData> before = opt.state();
        Map<String, TensorData> bad = new java.util.HashMap<>(before);
        bad.put("v.a", TensorData.ofFloats(new float[4], 4));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.loadState(bad));
        assertTrue(e.getMessage().contains("\"v.a\""), e.getMessage());
        bad.remove("v.a");
        e = assertThrows(IllegalArgumentException.class, () -> opt.loadState(bad));
        assertTrue(e.getMessage().contains("missing tensor \"v.a\""), e.getMessage());
        assertEquals(before, opt.state());
        assertThrows(IllegalArgumentException.class, () -> opt.step(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> new AdamW(List.of(a, new Parameter("a", 2)), paperAll(MomentPrecision.FP32)));
    }

    /** Half-ulp relative rounding error of a storage format (normal range). */
    private static double relativeRounding(MomentPrecision.Format f) {
        return switch (f) {
            case FP32 -> 0x1p-24;
            case BF16 -> 0x1p-8;          // 7 explicit mantissa bits
            case FP16_SCALED -> 0x1p-11;  // 10 explicit mantissa bits
            case E4M3_SCALED -> 0x1p-4;   // 3 explicit mantissa bits
        };
    }

    /** Largest absolute rounding error below the normal range, relative to the tensor amax. */
    private static double subnormalFloor(MomentPrecision.Format f) {
        return switch (f) {
            case FP32, BF16 -> 0;                         // FP32 exponent range: no underflow here
            case FP16_SCALED -> 0x1p-25 / 32752.0;        // half of 2^-24; amax·s >= 65504/2
            case E4M3_SCALED -> 0x1p-10 / 224.0;          // half of 2^-9; amax·s >= 448/2
        };
    }

    @ParameterizedTest
    @EnumSource(MomentPrecision.class)
    void lowPrecisionMomentsStayWithinTheirRoundingBound(MomentPrecision precision) {
        // Stored moment after step t: m'_t = Q(β·m'_{t-1} + (1-β)·g_t), so the error against the
        // FP32 trajectory obeys e_t = β·e_{t-1} + δ_t with |δ_t| <= r·|x_t| + f·amax_t (r: relative
        // half-ulp, f: subnormal floor, x_t the value rounded), hence
        // |e_t| <= (r·H + f·A)/(1-β), H and A the largest |x| (element) and amax (tensor) seen.
        // x_t is the low trajectory's fresh value: bounded by H·(1 + r) taken over stored values
        // of both trajectories; we use the factor 1.25 >= 1 + 2^-4 for all formats.
        Parameter ref = new Parameter("w", 256);
        Parameter low = new Parameter("w", 256);
        AdamW a = new AdamW(List.of(ref), paperAll(MomentPrecision.FP32));
        AdamW b = new AdamW(List.of(low), paperAll(precision));
        double[] hm = new double[256];
        double[] hv = new double[256];
        double am = 0, av = 0;
        for (int s = 0; s < 20; s++) {
            randomGrads(List.of(ref), 100 + s);
            randomGrads(List.of(low), 100 + s);
            a.step(1e-3);
            b.step(1e-3);
            float[] m0 = a.firstMoment(0), m1 = b.firstMoment(0);
            float[] v0 = a.secondMoment(0), v1 = b.secondMoment(0);
            for (int i = 0; i < 256; i++) {
                hm[i] = Math.max(hm[i], Math.max(Math.abs(m0[i]), Math.abs(m1[i])));
                hv[i] = Math.max(hv[i], Math.max(Math.abs(v0[i]), Math.abs(v1[i])));
                am = Math.max(am, hm[i]);
                av = Math.max(av, hv[i]);
            }
            double rm = relativeRounding(precision.first()), fm = subnormalFloor(precision.first());
            double rv = relativeRounding(precision.second()), fv = subnormalFloor(precision.second());
            for (int i = 0; i < 256; i++) {
                // FP32 arithmetic of the two runs differs only through the stored inputs; 2^-20·H
                // covers the FP32 rounding of the few float operations per step.
                double tm = (rm * 1.25 * hm[i] + fm * am) / (1 - 0.9) + 0x1p-20 * hm[i];
                double tv = (rv * 1.25 * hv[i] + fv * av) / (1 - 0.95) + 0x1p-20 * hv[i];
                assertEquals(m0[i], m1[i], tm, "m[" + i + "] at step " + s);
                assertEquals(v0[i], v1[i], tv, "v[" + i + "] at step " + s);
            }
        }
    }

    static void randomGrads(List<Parameter> ps, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (Parameter p : ps) {
            float[] g = p.grad();
            for (int i = 0; i < g.length; i++) {
                g[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextDouble(-3, 0)));
            }
        }
    }
}
