package dev.fp4.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The clamp kernels: each vector kernel equals its scalar twin bit for bit (run at every width). */
@Tag("kernel")
class ClampKernelsTest {

    /** Random and adversarial floats: ±0, subnormals, huge values, the bounds themselves. */
    static float[] adversarial(int n, long seed, float lower, float upper) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] pool = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE,
            -Float.MAX_VALUE, lower, upper, Math.nextDown(lower), Math.nextUp(lower), Math.nextDown(upper),
            Math.nextUp(upper), 1e30f, -1e30f};
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextInt(3) == 0 ? pool[r.nextInt(pool.length)] : (float) (r.nextGaussian() * 3);
        }
        return x;
    }

    @Test
    void keysFollowArraysSortOrder() {
        float[] x = adversarial(5000, 1, -1f, 1f);
        float[] sorted = x.clone();
        Arrays.sort(sorted);
        int[] keys = new int[x.length];
        assertEquals(-1, ClampKernels.toKeys(x, 0, x.length, keys, 0));
        Arrays.sort(keys);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToRawIntBits(sorted[i]), Float.floatToRawIntBits(ClampKernels.fromKey(keys[i])));
        }
        assertTrue(ClampKernels.key(-0f) < ClampKernels.key(0f), "-0 sorts before +0, as in Arrays.sort");
    }

    @Test
    void toKeysVectorEqualsScalar() {
        for (int len = 0; len <= 70; len++) {
            float[] x = adversarial(len + 5, len, -2f, 2f);
            int[] a = new int[len + 3];
            int[] b = new int[len + 3];
            assertEquals(ClampKernels.toKeysScalar(x, 5, len, a, 3), ClampKernels.toKeys(x, 5, len, b, 3));
            assertArrayEquals(a, b, "len " + len);
            for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
                Float.intBitsToFloat(0xFFC00001)}) {
                if (len == 0) {
                    continue;
                }
                int at = (len * 7 + 3) % len;
                float[] y = x.clone();
                y[5 + at] = bad;
                if (at + 3 < len) {
                    y[5 + at + 3] = Float.NaN; // the first one is reported
                }
                assertEquals(at, ClampKernels.toKeysScalar(y, 5, len, new int[len], 0));
                assertEquals(at, ClampKernels.toKeys(y, 5, len, new int[len], 0), "len " + len);
            }
        }
    }

    @Test
    void countLessEqualVectorEqualsScalar() {
        SplittableRandom r = new SplittableRandom(2);
        for (int len = 0; len <= 100; len++) {
            int[] a = new int[len + 4];
            for (int i = 0; i < a.length; i++) {
                a[i] = r.nextInt(5) == 0 ? r.nextInt() : r.nextInt(-3, 4);
            }
            int[] pivots = {0, -1, 3, Integer.MIN_VALUE, Integer.MAX_VALUE, a[len / 2]};
            for (int p : pivots) {
                long s = ClampKernels.countLessEqualScalar(a, 2, 2 + len, p);
                assertEquals(s, ClampKernels.countLessEqual(a, 2, 2 + len, p), "len " + len + " pivot " + p);
                int less = 0;
                int eq = 0;
                for (int i = 2; i < 2 + len; i++) {
                    less += a[i] < p ? 1 : 0;
                    eq += a[i] == p ? 1 : 0;
                }
                assertEquals(((long) less << 32) | eq, s);
            }
        }
    }

    @Test
    void compactionVectorEqualsScalar() {
        SplittableRandom r = new SplittableRandom(6);
        for (int len = 0; len <= 100; len++) {
            int[] a = new int[len + 5];
            for (int i = 0; i < a.length; i++) {
                a[i] = r.nextInt(3) == 0 ? r.nextInt() : r.nextInt(-4, 5);
            }
            for (int p : new int[] {0, -2, 4, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
                for (boolean less : new boolean[] {true, false}) {
                    int[] s = a.clone();
                    int[] v = a.clone();
                    int ws = ClampKernels.keepScalar(s, 2, 2 + len, p, less);
                    int wv = less ? ClampKernels.keepLess(v, 2, 2 + len, p) : ClampKernels.keepGreater(v, 2, 2 + len, p);
                    assertEquals(ws, wv, "len " + len);
                    assertArrayEquals(Arrays.copyOfRange(s, 0, ws), Arrays.copyOfRange(v, 0, wv));
                    int expected = 2;
                    for (int i = 2; i < 2 + len; i++) {
                        if (less ? a[i] < p : a[i] > p) {
                            assertEquals(a[i], s[expected++], "stable order");
                        }
                    }
                    assertEquals(expected, ws);
                }
            }
        }
    }

    @Test
    void clampVectorEqualsScalarWithResiduals() {
        float[][] boundPairs = {{-1f, 1f}, {-0f, 0f}, {0f, 0f}, {-0f, -0f}, {0.5f, 0.5f}, {-3f, 2.5f},
            {-Float.MAX_VALUE, Float.MAX_VALUE}, {Float.MIN_VALUE, 1e-30f}};
        long seed = 10;
        for (float[] b : boundPairs) {
            for (int len = 0; len <= 70; len++) {
                float[] x = adversarial(len + 1, seed++, b[0], b[1]);
                float[] outS = new float[len + 2];
                float[] outV = new float[len + 2];
                int[] colS = new int[len + 1];
                int[] colV = new int[len + 1];
                float[] valS = new float[len + 1];
                float[] valV = new float[len + 1];
                int ns = ClampKernels.clampScalar(x, 1, outS, 2, len, b[0], b[1], colS, valS, 1);
                int nv = ClampKernels.clamp(x, 1, outV, 2, len, b[0], b[1], colV, valV, 1);
                String what = Arrays.toString(b) + " len " + len;
                assertEquals(ns, nv, what);
                assertArrayEquals(bits(outS), bits(outV), what);
                assertArrayEquals(colS, colV, what);
                assertArrayEquals(bits(valS), bits(valV), what);
                // Without residual storage, and in place: the same clamped values and count.
                float[] inPlace = x.clone();
                assertEquals(ns, ClampKernels.clamp(inPlace, 1, inPlace, 1, len, b[0], b[1], null, null, 0));
                assertArrayEquals(bits(Arrays.copyOfRange(outS, 2, 2 + len)),
                        bits(Arrays.copyOfRange(inPlace, 1, 1 + len)), what + " in place");
            }
        }
    }

    @Test
    void clampKeepsValuesEqualToABound() {
        float[] x = {-0f, 0f, -1f, 1f, 2f, -2f};
        float[] out = new float[6];
        int[] col = new int[6];
        float[] val = new float[6];
        int n = ClampKernels.clamp(x, 0, out, 0, 6, 0f, 1f, col, val, 0);
        // -0 is numerically equal to the +0 bound: kept as -0, not a residual.
        assertArrayEquals(bits(new float[] {-0f, 0f, 0f, 1f, 1f, 0f}), bits(out));
        assertEquals(3, n);
        assertArrayEquals(new int[] {2, 4, 5}, Arrays.copyOf(col, 3));
        assertArrayEquals(new float[] {-1f, 1f, -2f}, Arrays.copyOf(val, 3));
    }

    @Test
    void clampBoundsVectorEqualsScalar() {
        SplittableRandom r = new SplittableRandom(4);
        for (int len = 0; len <= 70; len++) {
            float[] lower = new float[len + 3];
            float[] upper = new float[len + 3];
            for (int i = 0; i < lower.length; i++) {
                float a = (float) r.nextGaussian();
                float c = r.nextInt(4) == 0 ? a : (float) r.nextGaussian();
                lower[i] = Math.min(a, c);
                upper[i] = Math.max(a, c);
                if (r.nextInt(5) == 0) {
                    lower[i] = -0f;
                    upper[i] = 0f;
                }
            }
            float[] x = adversarial(len, len, -1f, 1f);
            float[] outS = new float[len];
            float[] outV = new float[len];
            int[] colS = new int[len];
            int[] colV = new int[len];
            float[] valS = new float[len];
            float[] valV = new float[len];
            int ns = ClampKernels.clampBoundsScalar(x, 0, outS, 0, len, lower, upper, 3, colS, valS, 0);
            int nv = ClampKernels.clampBounds(x, 0, outV, 0, len, lower, upper, 3, colV, valV, 0);
            assertEquals(ns, nv);
            assertArrayEquals(bits(outS), bits(outV), "len " + len);
            assertArrayEquals(colS, colV);
            assertArrayEquals(bits(valS), bits(valV));
        }
    }

    @Test
    void bandPassVectorEqualsScalarAndTheDefinition() {
        SplittableRandom r = new SplittableRandom(12);
        int lowest = ClampKernels.key(-Float.MAX_VALUE);
        int highest = ClampKernels.key(Float.MAX_VALUE);
        for (int len = 0; len <= 100; len++) {
            float[] x = adversarial(len + 3, 100 + len, -1f, 1f);
            int[] keys = new int[x.length];
            ClampKernels.toKeysScalar(x, 0, x.length, keys, 0);
            for (int trial = 0; trial < 6; trial++) {
                // Bands (a, b] from the data's own keys, with ties, empty bands and the extreme keys.
                int[] st = new int[ClampKernels.BAND_STATE + 4];
                for (int j = 0; j < 2; j++) {
                    int a = switch (trial) {
                        case 0 -> lowest;
                        case 1 -> ClampKernels.key(-0f);
                        default -> keys[r.nextInt(keys.length)];
                    };
                    int b = switch (trial) {
                        case 0 -> highest;
                        case 1 -> ClampKernels.key(0f);
                        case 2 -> a; // empty
                        default -> Math.max(a, keys[r.nextInt(keys.length)]);
                    };
                    st[2 + 3 * j] = b - a;
                    st[3 * j] = a;
                    st[3 * j + 1] = a + 1;
                    st[6 + 2 * j] = 7 * j; // counts add to what is there
                    st[7 + 2 * j] = 3;
                }
                int room = len + 5 + ClampKernels.BAND_SLACK;
                st[10] = 5;
                st[11] = 5 + room;
                int[] stS = shifted(st, 2);
                int[] stV = shifted(st, 2);
                int[] bufS = new int[2 * room + 5];
                int[] bufV = new int[2 * room + 5];
                assertEquals(-1, ClampKernels.bandPassScalar(x, 3, len, bufS, stS, 2));
                assertEquals(-1, ClampKernels.bandPass(x, 3, len, bufV, stV, 2));
                assertArrayEquals(stS, stV, "len " + len + " trial " + trial);
                for (int j = 0; j < 2; j++) {
                    int from = st[10 + j];
                    int to = stS[2 + 10 + j];
                    assertArrayEquals(Arrays.copyOfRange(bufS, from, to), Arrays.copyOfRange(bufV, from, to),
                            "len " + len + " trial " + trial + " band " + j);
                    // The definition, element by element.
                    int a = st[3 * j];
                    long b = (long) a + Integer.toUnsignedLong(st[3 * j + 2]);
                    int e = from;
                    int below = st[6 + 2 * j];
                    int upTo = st[7 + 2 * j];
                    for (int i = 3; i < 3 + len; i++) {
                        int k = keys[i];
                        below += k < a ? 1 : 0;
                        upTo += k <= a ? 1 : 0;
                        if (k > a && k <= b) {
                            assertEquals(k, bufS[e++], "kept key in order");
                        }
                    }
                    assertEquals(e, to);
                    assertEquals(below, stS[2 + 6 + 2 * j]);
                    assertEquals(upTo, stS[2 + 7 + 2 * j]);
                }
            }
            if (len > 0) {
                for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                    int at = (len * 5 + 1) % len;
                    float[] y = x.clone();
                    y[3 + at] = bad;
                    if (at + 2 < len) {
                        y[3 + at + 2] = Float.NaN; // the first one is reported
                    }
                    int[] st = new int[ClampKernels.BAND_STATE];
                    int[] buf = new int[2 * (len + ClampKernels.BAND_SLACK)];
                    st[11] = len + ClampKernels.BAND_SLACK;
                    assertEquals(at, ClampKernels.bandPassScalar(y, 3, len, buf, st.clone(), 0));
                    assertEquals(at, ClampKernels.bandPass(y, 3, len, buf, st.clone(), 0), "len " + len);
                }
            }
        }
    }

    private static int[] shifted(int[] st, int by) {
        int[] s = new int[st.length + by];
        System.arraycopy(st, 0, s, by, st.length);
        return s;
    }

    static int[] bits(float[] x) {
        int[] b = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            b[i] = Float.floatToRawIntBits(x[i]);
        }
        return b;
    }
}
