package dev.fp4.bench.jmh;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.core.simd.Simd;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * FP4 quantization bandwidth: quantize (absmax + scale + encode + pack) per row and MXFP4, and
 * decode (dequantize), beside a plain {@code System.arraycopy} of the same FP32 array, in one run.
 *
 * <p>Each benchmark touches n FP32 input values (4n bytes; decode writes 4n bytes of FP32).
 * The primary score is operations per second; the auxiliary counter {@code fp32Bytes} reports
 * 4n bytes per operation as a rate, i.e. bytes of FP32 input per second (divide by 1e9 for GB/s).
 * Sizes: 4K floats (16 KB, in L1), 256K floats (1 MB, L2-sized) and 16M floats (64 MB, beyond
 * every cache). Matrices are [n/4096, 4096] (one row of 4096 for the smallest size).
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector -cp fp4-bench/target/fp4.jar org.openjdk.jmh.Main QuantizeBench \
 *     -f 1 -wi 2 -i 3 -w 1s -r 1s
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Thread)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow", "-Xmx2g"})
public class QuantizeBench {

    /** Number of FP32 elements. */
    @Param({"4096", "262144", "16777216"})
    public int n;

    private float[] x;
    private float[] out;
    private Fp4Tensor perRow;
    private Fp4Tensor mxfp4;

    /** Bytes of FP32 data per operation, reported as a rate. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Bytes {
        /** FP32 bytes processed (4 per element). */
        public long fp32Bytes;

        /** Resets the counter for each iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            fp32Bytes = 0;
        }
    }

    /** Gaussian activations with a few outliers, the shape FP4 quantizers see in training. */
    @Setup(Level.Trial)
    public void setUp() {
        int cols = Math.min(n, 4096);
        int rows = n / cols;
        SplittableRandom rnd = new SplittableRandom(42);
        x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian() * (rnd.nextInt(1000) == 0 ? 20f : 1f);
        }
        out = new float[n];
        perRow = Fp4Tensor.allocate(rows, cols, Fp4Scheme.perRow());
        mxfp4 = Fp4Tensor.allocate(rows, cols, Fp4Scheme.mxfp4());
        perRow.quantizeFrom(x, 0);
        mxfp4.quantizeFrom(x, 0);
        System.out.println("# fp4 kernels: " + Simd.describe());
    }

    /** The reference: copy n floats (reads 4n bytes and writes 4n bytes). */
    @Benchmark
    public float[] copy(Bytes b) {
        System.arraycopy(x, 0, out, 0, n);
        b.fp32Bytes += 4L * n;
        return out;
    }

    /** Per-row power-of-two scale, RNE, packed codes (reads 4n bytes, writes n/2). */
    @Benchmark
    public Fp4Tensor quantizePerRow(Bytes b) {
        perRow.quantizeFrom(x, 0);
        b.fp32Bytes += 4L * n;
        return perRow;
    }

    /** MXFP4: 1x32 blocks, E8M0 FLOOR scales, RNE. */
    @Benchmark
    public Fp4Tensor quantizeMxfp4(Bytes b) {
        mxfp4.quantizeFrom(x, 0);
        b.fp32Bytes += 4L * n;
        return mxfp4;
    }

    /** Decode per-row codes with their scales to FP32 (reads n/2 bytes, writes 4n). */
    @Benchmark
    public float[] decodePerRow(Bytes b) {
        perRow.dequantizeInto(out, 0);
        b.fp32Bytes += 4L * n;
        return out;
    }

    /** Decode MXFP4 codes with their block scales. */
    @Benchmark
    public float[] decodeMxfp4(Bytes b) {
        mxfp4.dequantizeInto(out, 0);
        b.fp32Bytes += 4L * n;
        return out;
    }
}
