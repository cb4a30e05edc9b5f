package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.fail;

import dev.fp4.core.simd.Simd;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The DGE kernels at the configured vector width (the build runs this at 512, 256, 128 bits and
 * scalar): the distance kernel and the bulk derivative each equal their scalar twin bit for bit, and
 * the bulk derivative equals the per-element definition, on random and adversarial scaled weights and
 * lengths that are not multiples of the vector width or of the block.
 */
@Tag("kernel")
class DgeKernelsTest {

    /** Scaled weights: uniform in [−8, 8], with a third drawn from interval ends and special values. */
    static float[] weights(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] ends = {-6f, -5f, -4f, -3f, -2f, -1.5f, -1f, -0.75f, -0.5f, -0.25f, 0f, 0.25f, 0.5f, 1f, 1.25f, 1.5f,
            2f, 3f, 4f, 5f, 6f};
        float[] special = {-0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 7f, -7f, -1e30f, 1e30f,
            -Float.MAX_VALUE, Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
            Float.intBitsToFloat(0xFFC00001)};
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            switch (r.nextInt(6)) {
                case 0 -> {
                    float e = ends[r.nextInt(ends.length)];
                    int steps = r.nextInt(7) - 3; // the end and its neighbours up to 3 ulps away
                    for (int s = 0; s < Math.abs(steps); s++) {
                        e = steps > 0 ? Math.nextUp(e) : Math.nextDown(e);
                    }
                    x[i] = e;
                }
                case 1 -> x[i] = special[r.nextInt(special.length)];
                default -> x[i] = (float) r.nextDouble(-8.0, 8.0);
            }
        }
        return x;
    }

    private static void assertSameBits(float[] want, float[] got, float[] x, int xOff, int off, int n, String what) {
        for (int i = 0; i < n; i++) {
            if (Float.floatToRawIntBits(want[off + i]) != Float.floatToRawIntBits(got[off + i])) {
                fail(what + " [" + i + "], x = " + x[xOff + i] + ": " + got[off + i] + " vs " + want[off + i]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 15, 16, 17, 33, 100, 1023, 1024, 1025, 2500})
    void distancesEqualTheScalarTwin(int n) {
        float[] x = weights(n + 3, n);
        float[] a = new float[n + 2];
        float[] b = new float[n + 2];
        DgeKernels.distancesScalar(x, 3, a, 2, n);
        DgeKernels.distances(x, 3, b, 2, n);
        assertSameBits(a, b, x, 3, 2, n, "distances");
        if (Simd.ENABLED) {
            float[] c = new float[n + 2];
            DgeKernelsPanama.distancesVector(x, 3, c, 2, n);
            assertSameBits(a, c, x, 3, 2, n, "distancesVector");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 7, 15, 16, 17, 33, 100, 1023, 1024, 1025, 2500, 100_000})
    void derivativesEqualTheScalarTwinAndTheDefinition(int n) {
        for (float k : new float[] {1f, 3f, 5f, 10f, 7.3f}) {
            DifferentiableGradientEstimator dge = new DifferentiableGradientEstimator(k, k == 10f ? 1.5f : 3f);
            float[] x = weights(n + 5, 31L * n + (long) k);
            float[] a = new float[n + 1];
            float[] b = new float[n + 1];
            dge.derivativesScalar(x, 5, a, 1, n);
            dge.derivatives(x, 5, b, 1, n);
            assertSameBits(a, b, x, 5, 1, n, dge + " derivatives");
            if (Simd.ENABLED) {
                float[] c = new float[n + 1];
                dge.derivativesVector(x, 5, c, 1, n);
                assertSameBits(a, c, x, 5, 1, n, dge + " derivativesVector");
            }
            float[] inPlace = x.clone(); // dst = x with equal offsets
            dge.derivatives(inPlace, 5, inPlace, 5, n);
            assertSameBits(a, java.util.Arrays.copyOfRange(inPlace, 4, n + 5), x, 5, 1, n, dge + " in place");
            float[] d = new float[n + 1];
            for (int i = 0; i < n; i++) {
                d[1 + i] = dge.derivative(x[5 + i]);
            }
            assertSameBits(d, b, x, 5, 1, n, dge + " derivative");
        }
    }
}
