package dev.fp4.bench.jmh;

import dev.fp4.core.gemm.Gemm;
import dev.fp4.core.quant.CsrMatrix;
import dev.fp4.core.quant.OutlierClamp;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Outlier clamping of activations as the {@code fp4-dge-occ} recipe runs it: α = 0.99 on [4096, 256]
 * and [4096, 768] matrices, the full clamp (bounds, clamped copy, CSR residual) and the bounds alone.
 * Data: Gaussian activations with a few outlier channels (every 64th column scaled by 20), as
 * transformer activations have.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector -cp fp4-bench/target/fp4.jar org.openjdk.jmh.Main ClampBench \
 *     -f 1 -wi 2 -i 3 -w 1s -r 1s -prof gc
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow", "-Xmx2g"})
public class ClampBench {

    /** Rows (tokens). */
    @Param({"4096"})
    public int rows;

    /** Columns (features). */
    @Param({"256", "768"})
    public int cols;

    /** Grouping of the quantiles. */
    @Param({"PER_TENSOR"})
    public OutlierClamp.Granularity granularity;

    /** Threads of the shared pool. */
    @Param({"1", "2"})
    public int threads;

    private float[] x;
    private float[] out;
    private float[] lower;
    private float[] upper;
    private CsrMatrix residual;
    private OutlierClamp clamp;
    private int previousThreads;

    /** Seeded data, buffers sized once (the clamp then allocates nothing per call). */
    @Setup(Level.Trial)
    public void setUp() {
        previousThreads = Gemm.threads();
        Gemm.setThreads(threads);
        SplittableRandom rnd = new SplittableRandom(42);
        x = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                x[r * cols + c] = (float) rnd.nextGaussian() * (c % 64 == 5 ? 20f : 1f);
            }
        }
        out = new float[x.length];
        clamp = new OutlierClamp(0.99, granularity);
        int g = clamp.groups(rows, cols);
        lower = new float[g];
        upper = new float[g];
        residual = new CsrMatrix(rows, cols, (int) clamp.maxClamped(rows, cols));
    }

    /** Restores the pool size. */
    @TearDown(Level.Trial)
    public void tearDown() {
        Gemm.setThreads(previousThreads);
    }

    /** Bounds, clamped copy and residual. */
    @Benchmark
    public int clamp() {
        return clamp.clamp(x, 0, rows, cols, out, 0, residual);
    }

    /** The two order statistics only. */
    @Benchmark
    public float bounds() {
        clamp.bounds(x, 0, rows, cols, lower, 0, upper, 0);
        return lower[0] + upper[0];
    }
}
