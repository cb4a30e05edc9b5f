package dev.fp4.bench.jmh;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.core.gemm.Gemm;
import dev.ludovic.netlib.blas.BLAS;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
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
 * GeMM throughput: the library's FP32 engine ({@link FloatGemm}) and OpenBLAS SGEMM (through
 * netlib's JNI binding to the system {@code libopenblas0}) on the same shapes, layouts and thread
 * counts.
 *
 * <p>Every benchmark reports, besides ops/s, the auxiliary counter {@code gflops}: 2·M·N·K/10⁹ per
 * call divided by time, i.e. GFLOP/s. Shapes are {@code LAYOUT:MxNxK}: 1024³ and the GeMMs of the
 * {@code small} training preset (4096 tokens = batch 16 × seq 256, dim 256, ffn 768): the
 * forward NT GeMMs of the FFN (up/gate [4096,256]·[768,256]ᵀ, down [4096,768]·[256,768]ᵀ), the data
 * gradient NN and the weight gradients TN (dW = dYᵀ·X with K = 4096 tokens).
 *
 * <p>OpenBLAS: when netlib finds no native BLAS (its instance is not {@code JNIBLAS}) the OpenBLAS
 * benchmarks fail in setup with a message saying so, which JMH prints as that row's failure while
 * the other rows run. Its thread count is set through {@code openblas_set_num_threads}.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp fp4.jar \
 *      org.openjdk.jmh.Main GemmBench -f 1 -wi 2 -i 3 -w 1s -r 1s
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Benchmark)
public class GemmBench {

    /** Layout and shape, {@code LAYOUT:MxNxK}. */
    @Param({"NT:1024x1024x1024", "NT:4096x768x256", "NT:4096x256x768", "NN:4096x256x768", "TN:768x256x4096",
            "TN:256x768x4096"})
    public String shape;

    /** Threads for the library pool and for OpenBLAS. */
    @Param({"1", "2"})
    public int threads;

    char layout;
    int m;
    int n;
    int k;
    float[] a;
    float[] b;
    float[] c;

    /** GFLOP/s as a JMH auxiliary counter: 2·M·N·K/10⁹ added per call, reported per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Flops {
        /** Accumulated GFLOP of the current iteration (JMH reports it per second). */
        public double gflops;

        @Setup(Level.Iteration)
        public void reset() {
            gflops = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        layout = shape.charAt(0);
        String[] d = shape.substring(3).split("x");
        m = Integer.parseInt(d[0]);
        n = Integer.parseInt(d[1]);
        k = Integer.parseInt(d[2]);
        SplittableRandom r = new SplittableRandom(42);
        a = new float[m * k];
        b = new float[n * k];
        c = new float[m * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() * 2 - 1);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) (r.nextDouble() * 2 - 1);
        }
        Gemm.setThreads(threads);
    }

    double flop() {
        return 2e-9 * m * n * k;
    }

    /** The library's FP32 GeMM. */
    @Benchmark
    public float fp32(Flops f) {
        switch (layout) {
            case 'N' -> {
                if (shape.charAt(1) == 'T') {
                    FloatGemm.matmulNT(a, 0, b, 0, c, 0, m, n, k, false);
                } else {
                    FloatGemm.matmulNN(a, 0, b, 0, c, 0, m, n, k, false);
                }
            }
            default -> FloatGemm.matmulTN(a, 0, b, 0, c, 0, m, n, k, false);
        }
        f.gflops += flop();
        return c[0];
    }

    /** OpenBLAS SGEMM on the same row-major operands (column-major calls computing Cᵀ). */
    @State(Scope.Benchmark)
    public static class OpenBlas {
        BLAS blas;

        @Setup(Level.Trial)
        public void setUp(GemmBench bench) throws Throwable {
            blas = BLAS.getInstance();
            String impl = blas.getClass().getName();
            if (!impl.endsWith("JNIBLAS")) {
                throw new UnsupportedOperationException("OpenBLAS row skipped: no native BLAS found (netlib uses "
                        + impl + "); install the system OpenBLAS, e.g. apt-get install libopenblas0");
            }
            setOpenBlasThreads(bench.threads);
        }

        // Restricted FFM calls: the benchmark JVM runs with --enable-native-access=ALL-UNNAMED.
        @SuppressWarnings("restricted")
        static void setOpenBlasThreads(int threads) throws Throwable {
            Linker linker = Linker.nativeLinker();
            SymbolLookup lib = SymbolLookup.libraryLookup("libopenblas.so.0", Arena.global());
            MethodHandle set = linker.downcallHandle(lib.find("openblas_set_num_threads").orElseThrow(),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
            MethodHandle get = linker.downcallHandle(lib.find("openblas_get_num_threads").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT));
            set.invokeExact(threads);
            int now = (int) get.invokeExact();
            if (now != threads) {
                throw new IllegalStateException("OpenBLAS reports " + now + " threads after asking for " + threads);
            }
        }
    }

    /** OpenBLAS SGEMM: row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ. */
    @Benchmark
    public float openblas(OpenBlas o, Flops f) {
        switch (shape.substring(0, 2)) {
            case "NT" -> o.blas.sgemm("T", "N", n, m, k, 1f, b, k, a, k, 0f, c, n);
            case "NN" -> o.blas.sgemm("N", "N", n, m, k, 1f, b, n, a, k, 0f, c, n);
            default -> o.blas.sgemm("N", "T", n, m, k, 1f, b, n, a, m, 0f, c, n);
        }
        f.gflops += flop();
        return c[0];
    }
}
