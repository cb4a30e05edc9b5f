package dev.fp4.bench.jmh;

import dev.fp4.nn.FlashAttention;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The attention core of one layer of the {@code small} preset ({@link FlashAttention}: batch 16,
 * 8 heads of 32, sequence 256, causal) forward and backward, per thread count.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector"})
public class AttentionBench {
    /** Threads of the shared pool. */
    @Param({"1"})
    public int threads;

    /** Sequences. */
    @Param({"16"})
    public int batch;

    /** Tokens per sequence. */
    @Param({"256"})
    public int seq;

    /** Query (= kv) heads. */
    @Param({"8"})
    public int heads;

    /** Head width. */
    @Param({"32"})
    public int headDim;

    private FlashAttention fa;
    private float[] q;
    private float[] k;
    private float[] v;
    private float[] o;
    private float[] lse;
    private float[] dout;
    private float[] dq;
    private float[] dk;
    private float[] dv;

    /** Random inputs and one forward (for the backward's saved state). */
    @Setup(Level.Trial)
    public void setUp() {
        dev.fp4.core.gemm.Gemm.setThreads(threads);
        SplittableRandom r = new SplittableRandom(1);
        int n = batch * seq * heads * headDim;
        q = random(r, n);
        k = random(r, n);
        v = random(r, n);
        dout = random(r, n);
        o = new float[n];
        dq = new float[n];
        dk = new float[n];
        dv = new float[n];
        lse = new float[batch * seq * heads];
        fa = new FlashAttention(heads, heads, headDim);
        fa.forward(q, k, v, o, lse, batch, seq);
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /** Forward. */
    @Benchmark
    public float forward() {
        fa.forward(q, k, v, o, lse, batch, seq);
        return o[0];
    }

    /** Backward. */
    @Benchmark
    public float backward() {
        fa.backward(q, k, v, o, lse, dout, dq, dk, dv, batch, seq);
        return dq[0];
    }
}
