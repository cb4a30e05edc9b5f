package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every vector kernel of the layers against its scalar twin, bit for bit, on random and adversarial
 * data and on lengths that are not a multiple of the vector width or of the 16 partial sums.
 */
@Tag("kernel")
class KernelTwinTest {
    private static final float[] SPECIAL = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-40f, Float.MIN_NORMAL,
        1f, -1f, 0.5f, 3e38f, -3e38f, 88f, 88.5f, -87f, -87.5f, -100f, 100f, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY, Float.NaN, 65504f, 1e-20f};

    static Stream<Arguments> cases() {
        return IntStream.of(1, 3, 15, 16, 17, 31, 33, 64, 100, 257).boxed()
                .flatMap(n -> Stream.of("random", "wide", "special").map(kind -> Arguments.of(n, kind)));
    }

    static float[] data(int n, String kind, long seed) {
        SplittableRandom r = new SplittableRandom(seed * 31 + n);
        float[] x = new float[n + 5];
        for (int i = 0; i < x.length; i++) {
            x[i] = switch (kind) {
                case "random" -> (float) r.nextGaussian();
                case "wide" -> (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-30, 30)));
                default -> r.nextInt(4) == 0 ? SPECIAL[r.nextInt(SPECIAL.length)] : (float) (r.nextGaussian() * 50);
            };
        }
        return x;
    }

    private static void assertBits(float expected, float actual, String what) {
        assertEquals(Float.floatToRawIntBits(expected) == Float.floatToRawIntBits(actual)
                || (Float.isNaN(expected) && Float.isNaN(actual)), true,
                () -> what + ": scalar " + expected + " vector " + actual);
    }

    private static void assertBits(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            int k = i;
            assertTrue(Float.floatToRawIntBits(expected[i]) == Float.floatToRawIntBits(actual[i])
                    || (Float.isNaN(expected[i]) && Float.isNaN(actual[i])),
                    () -> what + " [" + k + "]: scalar " + expected[k] + " vector " + actual[k]);
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void reductions(int n, String kind) {
        float[] a = data(n, kind, 1);
        float[] b = data(n, kind, 2);
        assertBits(VectorOps.dotScalar(a, 2, b, 3, n), VectorOpsPanama.dotVector(a, 2, b, 3, n), "dot");
        assertBits(VectorOps.dotScalar(a, 1, a, 1, n), VectorOpsPanama.dotVector(a, 1, a, 1, n), "sumSquares");
        assertBits(VectorOps.sumScalar(a, 4, n), VectorOpsPanama.sumVector(a, 4, n), "sum");
        assertBits(VectorOps.maxScalar(a, 1, n), VectorOpsPanama.maxVector(a, 1, n), "max");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void elementWise(int n, String kind) {
        float[] a = data(n, kind, 3);
        float[] b = data(n, kind, 4);
        float[] s = new float[n + 2];
        float[] v = new float[n + 2];
        VectorOps.addScalar(a, 1, b, 2, s, 2, n);
        VectorOpsPanama.addVector(a, 1, b, 2, v, 2, n);
        assertBits(s, v, "add");
        for (float[] sh : new float[][] {{0f, 1f}, {0f, -1f}, {2.5f, 0.125f}, {-3f, 7f}}) {
            VectorOps.expAffineScalar(a, 3, s, 1, n, sh[0], sh[1]);
            VectorOpsPanama.expAffineVector(a, 3, v, 1, n, sh[0], sh[1]);
            assertBits(s, v, "exp shift " + sh[0] + " scale " + sh[1]);
        }
        float[] g = data(n, kind, 5);
        float[] u = data(n, kind, 6);
        float[] hs = new float[n];
        float[] hv = new float[n];
        SwiGLU.forward(g, 1, u, 2, hs, 0, n); // exp part (already twin-checked); then the gate
        VectorOps.expAffineScalar(g, 1, hs, 0, n, 0f, -1f);
        VectorOps.expAffineScalar(g, 1, hv, 0, n, 0f, -1f);
        SwiGLU.forwardScalar(g, 1, u, 2, hs, 0, n);
        SwiGLUPanama.forwardVector(g, 1, u, 2, hv, 0, n);
        assertBits(hs, hv, "swiglu forward");
        float[] dh = data(n, kind, 7);
        float[] dgs = new float[n];
        float[] dus = new float[n];
        float[] dgv = new float[n];
        float[] duv = new float[n];
        VectorOps.expAffineScalar(g, 1, dgs, 0, n, 0f, -1f);
        VectorOps.expAffineScalar(g, 1, dgv, 0, n, 0f, -1f);
        SwiGLU.backwardScalar(g, 1, u, 2, dh, 3, dgs, 0, dus, 0, n);
        SwiGLUPanama.backwardVector(g, 1, u, 2, dh, 3, dgv, 0, duv, 0, n);
        assertBits(dgs, dgv, "swiglu dg");
        assertBits(dus, duv, "swiglu du");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void rmsNormAndSoftmax(int n, String kind) {
        float[] x = data(n, kind, 8);
        float[] w = data(n, kind, 9);
        float[] dy = data(n, kind, 10);
        float r = 0.75f;
        float[] ys = new float[n];
        float[] yv = new float[n];
        RMSNorm.scaleScalar(x, 2, w, r, ys, 0, n);
        RMSNormPanama.scaleVector(x, 2, w, r, yv, 0, n);
        assertBits(ys, yv, "rmsnorm scale");
        for (boolean acc : new boolean[] {false, true}) {
            float[] dxs = data(n, "random", 11);
            float[] dxv = dxs.clone();
            float[] dws = data(n, "random", 12);
            float[] dwv = dws.clone();
            RMSNorm.backwardRowScalar(x, 2, w, r, dy, 1, dxs, 3, dws, n, acc);
            RMSNormPanama.backwardRowVector(x, 2, w, r, dy, 1, dxv, 3, dwv, n, acc);
            assertBits(dxs, dxv, "rmsnorm dx acc=" + acc);
            assertBits(dws, dwv, "rmsnorm dw acc=" + acc);
        }
        float[] p = data(n, kind, 13);
        float[] dss = new float[n + 1];
        float[] dsv = new float[n + 1];
        float d = VectorOps.dotScalar(p, 0, dy, 1, n);
        Softmax.backwardScalar(p, 0, dy, 1, dss, 1, n, 0.3f, d);
        SoftmaxPanama.backwardVector(p, 0, dy, 1, dsv, 1, n, 0.3f, d);
        assertBits(dss, dsv, "softmax backward");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void rope(int half, String kind) {
        float[] x = data(2 * half, kind, 14);
        float[] c = data(half, "random", 15);
        float[] s = data(half, "random", 16);
        for (boolean inverse : new boolean[] {false, true}) {
            float[] xs = x.clone();
            float[] xv = x.clone();
            Rope.rotateScalar(xs, 1, c, s, 2, half, inverse);
            RopePanama.rotateVector(xv, 1, c, s, 2, half, inverse);
            assertBits(xs, xv, "rope inverse=" + inverse);
        }
    }

    @Test
    void expIsAccurate() {
        // Cephes' expf is specified at about 1 ulp; with the fused steps we allow 3 ulp of the
        // correctly rounded value over the range the layers use.
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < 200_000; i++) {
            float x = (float) r.nextDouble(-87, 88);
            float expected = (float) Math.exp(x);
            float actual = VectorOps.exp(x);
            assertTrue(Math.abs(actual - expected) <= 3 * Math.ulp(expected),
                    () -> "exp(" + x + ") = " + actual + ", expected " + expected);
        }
        assertEquals(1f, VectorOps.exp(0f));
        assertEquals(1f, VectorOps.exp(-0f));
        assertEquals(0f, VectorOps.exp(Float.NEGATIVE_INFINITY));
        assertEquals(0f, VectorOps.exp(-88f));
        assertTrue(Float.isNaN(VectorOps.exp(Float.NaN)));
        assertTrue(Float.isFinite(VectorOps.exp(Float.POSITIVE_INFINITY)));
    }

    @Test
    void dotOrderIsTheDocumentedOne() {
        // 16 partials by residue, combined 0..15, then the tail: a case where the order matters.
        float[] a = new float[18];
        float[] one = new float[18];
        java.util.Arrays.fill(one, 1f);
        a[0] = 1e8f;
        a[1] = 1f;
        a[2] = -1e8f;
        a[16] = 1f;
        a[17] = 1f;
        // partials: p0 = 1e8, p1 = 1, p2 = -1e8 → ((1e8 + 1) + -1e8) = 0 in FP32, then + 1 + 1.
        assertEquals(2f, VectorOps.dotScalar(a, 0, one, 0, 18));
        assertEquals(2f, VectorOpsPanama.dotVector(a, 0, one, 0, 18));
        assertArrayEquals(new float[] {2f}, new float[] {VectorOpsPanama.sumVector(a, 0, 18)});
    }
}
