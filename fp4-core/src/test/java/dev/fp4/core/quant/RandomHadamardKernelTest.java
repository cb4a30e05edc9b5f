package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Hadamard vector kernel equals its scalar twin bit for bit (run at every vector width). */
@Tag("kernel")
class RandomHadamardKernelTest {

    static float[] adversarial(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] pool = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, 1e38f, -3e38f,
            Float.MAX_VALUE, 0.5f, -0.5f, 1f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextInt(4) == 0 ? pool[r.nextInt(pool.length)] : (float) (r.nextGaussian() * 10);
        }
        return x;
    }

    /** Bits with every NaN canonical: NaN payloads may differ with operand order, NaN-ness may not. */
    static int[] bits(float[] x) {
        int[] b = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            b[i] = Float.floatToIntBits(x[i]);
        }
        return b;
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 4, 8, 16, 32, 64, 128, 256})
    void vectorEqualsScalar(int size) {
        RandomHadamard h = new RandomHadamard(size, size * 31L);
        float[] signs = h.signs();
        float[] tiled = new float[Math.max(size, 64)];
        for (int i = 0; i < tiled.length; i++) {
            tiled[i] = signs[i % size];
        }
        // Group counts that leave every possible tail when several groups share one vector.
        for (int groups = 0; groups <= 9; groups++) {
            for (boolean inverse : new boolean[] {false, true}) {
                int len = groups * size;
                float[] x = adversarial(len + 3, groups * 1000L + size);
                float[] s = x.clone();
                float[] v = x.clone();
                RandomHadamard.transformScalar(s, 3, len, size, signs, h.normalization(), inverse);
                RandomHadamardPanama.transformVector(v, 3, len, size, tiled, h.normalization(), inverse);
                assertArrayEquals(bits(s), bits(v), "size " + size + " groups " + groups + " inverse " + inverse);
                // The public entry points dispatch to one of the two.
                float[] p = x.clone();
                if (len > 0) {
                    if (inverse) {
                        h.inverse(p, 3, groups, size);
                    } else {
                        h.forward(p, 3, groups, size);
                    }
                }
                assertArrayEquals(bits(s), bits(p));
            }
        }
    }
}
