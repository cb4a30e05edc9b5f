package dev.fp4.bench.jmh;

import dev.fp4.core.quant.DifferentiableGradientEstimator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The DGE derivative over one weight gradient's worth of scaled weights (3.4 M, the benchmark
 * model's weight count), in ns per element: {@code derivatives} (the library's loop) beside
 * {@code powLoop}, a copy of the loop as it was before the exact fast path (every element through
 * {@link Math#pow}), which defines the results both must return.
 *
 * <p>Scaled weights: {@code uniform} draws x uniformly from [−6, 6]; {@code rowScaled} draws
 * Gaussian rows of 4096 and scales each row as the weight quantizer does, by the largest power of two
 * 2^e with amax·2^e ≤ 6.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector -cp fp4-bench/target/fp4.jar org.openjdk.jmh.Main DgeBench \
 *     -f 1 -wi 2 -i 3 -w 1s -r 1s -prof gc
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow", "-Xmx1g"})
public class DgeBench {

    private static final int N = 3_400_000;

    // The official interval list (see DifferentiableGradientEstimator), for the copy of the old loop.
    private static final float[] LEFT = {-6f, -4f, -3f, -2f, -1.5f, -1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f};
    private static final float[] DELTA = {2f, 1f, 1f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 1f, 1f, 2f};

    /** How the scaled weights are drawn: {@code uniform} in [−6, 6] or Gaussian {@code rowScaled}. */
    @Param({"uniform", "rowScaled"})
    public String weights;

    private final DifferentiableGradientEstimator dge = new DifferentiableGradientEstimator();
    private float[] x;
    private float[] dst;

    /** Draws the scaled weights (seeded). */
    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(42);
        x = new float[N];
        dst = new float[N];
        if (weights.equals("uniform")) {
            for (int i = 0; i < N; i++) {
                x[i] = (float) rnd.nextDouble(-6.0, 6.0);
            }
        } else {
            int cols = 4096;
            for (int r = 0; r * cols < N; r++) {
                int from = r * cols;
                int to = Math.min(N, from + cols);
                float amax = 0f;
                for (int i = from; i < to; i++) {
                    x[i] = (float) rnd.nextGaussian() * 0.02f;
                    amax = Math.max(amax, Math.abs(x[i]));
                }
                float sf = (float) Math.scalb(1.0, Math.getExponent(6f / amax)); // 2^⌊log2(6/amax)⌋
                if (amax * sf > 6f) {
                    sf /= 2f;
                }
                for (int i = from; i < to; i++) {
                    x[i] *= sf;
                }
            }
        }
    }

    /** The library's bulk derivative. */
    @Benchmark
    @OperationsPerInvocation(N)
    public float[] derivatives() {
        dge.derivatives(x, 0, dst, 0, N);
        return dst;
    }

    /** The loop before the fast path: Math.pow per element (k = 5, clip = 3). */
    @Benchmark
    @OperationsPerInvocation(N)
    public float[] powLoop() {
        double exponent = 1f / 5f - 1f;
        float k = 5f;
        float clip = 3f;
        for (int j = 0; j < N; j++) {
            float v = x[j];
            if (!(v <= 6f)) {
                dst[j] = 0f;
                continue;
            }
            int i = (v >= -4f ? 1 : 0) + (v >= -3f ? 1 : 0) + (v >= -2f ? 1 : 0) + (v >= -1.5f ? 1 : 0)
                    + (v >= -1f ? 1 : 0) + (v >= -0.5f ? 1 : 0) + (v >= 0f ? 1 : 0) + (v >= 0.5f ? 1 : 0)
                    + (v >= 1f ? 1 : 0) + (v >= 1.5f ? 1 : 0) + (v >= 2f ? 1 : 0) + (v >= 3f ? 1 : 0)
                    + (v >= 4f ? 1 : 0);
            float u = v - LEFT[i];
            float t = Math.abs(2f * u / DELTA[i] - 1f);
            float d = (float) (Math.pow(t, exponent) / k);
            dst[j] = Math.min(d, clip);
        }
        return dst;
    }
}
