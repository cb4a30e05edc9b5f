package dev.fp4.bench.jmh;

import dev.fp4.core.gemm.FloatGemm;
import dev.fp4.core.gemm.Fp4Gemm;
import dev.fp4.core.gemm.Gemm;
import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
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
 * GeMM throughput: the emulated FP4 GeMM ({@link Fp4Gemm}, operands quantized once in setup), the
 * library's FP32 engine ({@link FloatGemm}) and OpenBLAS SGEMM (through netlib's JNI binding to the
 * system {@code libopenblas0}) on the same shapes, layouts and thread counts.
 *
 * <p>{@code fp4}: vector-wise power-of-two scales along the outer dimensions (per row of a [·, K]
 * operand, per column of a [K, ·] one: the exact path with scales factored out of the dot product).
 * {@code fp4Nvfp4}: NVFP4 (1×16 blocks, E4M3 scales folded into the decoded values).
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
@Warmup(iterations = 3, time = 1)
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

    /** "NT", "NN" or "TN", interned so the benchmark methods switch without allocating. */
    String layout;
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
        layout = shape.substring(0, 2).intern();
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
            case "NT" -> FloatGemm.matmulNT(a, 0, b, 0, c, 0, m, n, k, false);
            case "NN" -> FloatGemm.matmulNN(a, 0, b, 0, c, 0, m, n, k, false);
            default -> FloatGemm.matmulTN(a, 0, b, 0, c, 0, m, n, k, false);
        }
        f.gflops += flop();
        return c[0];
    }

    /** The operands quantized to FP4, for the layout of the shape. */
    @State(Scope.Benchmark)
    public static class Fp4Operands {
        Fp4Tensor a;
        Fp4Tensor b;
        Fp4Tensor aNv;
        Fp4Tensor bNv;

        @Setup(Level.Trial)
        public void setUp(GemmBench g) {
            boolean aKMajor = g.shape.startsWith("TN");
            boolean bKMajor = !g.shape.startsWith("NT");
            int ar = aKMajor ? g.k : g.m;
            int ac = aKMajor ? g.m : g.k;
            int br = bKMajor ? g.k : g.n;
            int bc = bKMajor ? g.n : g.k;
            a = Fp4Tensor.quantize(g.a, ar, ac, aKMajor ? Fp4Scheme.perColumn() : Fp4Scheme.perRow());
            b = Fp4Tensor.quantize(g.b, br, bc, bKMajor ? Fp4Scheme.perColumn() : Fp4Scheme.perRow());
            aNv = Fp4Tensor.quantize(g.a, ar, ac, Fp4Scheme.nvfp4());
            bNv = Fp4Tensor.quantize(g.b, br, bc, Fp4Scheme.nvfp4());
        }
    }

    private float fp4(Fp4Tensor x, Fp4Tensor y, Flops f) {
        switch (layout) {
            case "NT" -> Fp4Gemm.matmulNT(x, y, c, 0, false);
            case "NN" -> Fp4Gemm.matmulNN(x, y, c, 0, false);
            default -> Fp4Gemm.matmulTN(x, y, c, 0, false);
        }
        f.gflops += flop();
        return c[0];
    }

    /** The FP4 GeMM with vector-wise scales (exact path). */
    @Benchmark
    public float fp4(Fp4Operands o, Flops f) {
        return fp4(o.a, o.b, f);
    }

    /** The FP4 GeMM with NVFP4 block scales. */
    @Benchmark
    public float fp4Nvfp4(Fp4Operands o, Flops f) {
        return fp4(o.aNv, o.bNv, f);
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
        switch (layout) {
            case "NT" -> o.blas.sgemm("T", "N", n, m, k, 1f, b, k, a, k, 0f, c, n);
            case "NN" -> o.blas.sgemm("N", "N", n, m, k, 1f, b, n, a, k, 0f, c, n);
            default -> o.blas.sgemm("N", "T", n, m, k, 1f, b, n, a, m, 0f, c, n);
        }
        f.gflops += flop();
        return c[0];
    }
}
