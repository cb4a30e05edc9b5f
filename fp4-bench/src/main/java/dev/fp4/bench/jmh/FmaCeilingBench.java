package dev.fp4.bench.jmh;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The FP32 FMA ceiling that Java code reaches on this machine: twelve independent accumulator
 * vectors of the library's species ({@link Simd#FLOAT}, so {@code -Dfp4.vector.bits} applies), each
 * updated {@code acc = fma(acc, b, c)} in a register-only loop. Twelve chains cover the FMA latency
 * (4 cycles) of two FMA ports, so the loop is bound by FMA throughput alone, not by loads or latency.
 * The GeMM micro-kernel ({@code GemmBench}) can at best run at this figure; the training step's
 * GeMMs are measured against it.
 *
 * <p>Counter {@code gflops} ({@link GemmBench.Flops}): 2 · lanes · 12 · {@link #STEPS} flop per call,
 * per second. Row {@code twoThreads} runs the same loop on two JMH threads at once (per-thread
 * figures add up): what both cores of the VM give together.
 *
 * <pre>
 * java --add-modules=jdk.incubator.vector -cp fp4.jar org.openjdk.jmh.Main FmaCeilingBench -f 1 -wi 3 -i 5
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow"})
@State(Scope.Thread)
public class FmaCeilingBench {

    private static final VectorSpecies<Float> F = PanamaSimd.FLOAT;

    /** Loop trips per call: 12 · 2^16 vector FMAs, long enough that the call overhead vanishes. */
    static final int STEPS = 1 << 16;

    /** Multiplier and addend: near 1 and near 0, so the accumulators stay finite and normal. */
    float mul = 0.9999999f;
    float add = 1e-7f;

    /** One thread: the FMA ceiling of one core. */
    @Benchmark
    public float oneThread(GemmBench.Flops f) {
        float r = fmaLoop(mul, add);
        f.gflops += 2.0 * F.length() * 12 * STEPS / 1e9;
        return r;
    }

    /** Two threads at once: both cores of the VM. */
    @Benchmark
    @Threads(2)
    public float twoThreads(GemmBench.Flops f) {
        return oneThread(f);
    }

    /** Twelve independent FMA chains of STEPS steps each; returns their lane sum so nothing is dead. */
    static float fmaLoop(float mul, float add) {
        FloatVector b = FloatVector.broadcast(F, mul);
        FloatVector c = FloatVector.broadcast(F, add);
        FloatVector a0 = FloatVector.broadcast(F, 0f), a1 = FloatVector.broadcast(F, 1f);
        FloatVector a2 = FloatVector.broadcast(F, 2f), a3 = FloatVector.broadcast(F, 3f);
        FloatVector a4 = FloatVector.broadcast(F, 4f), a5 = FloatVector.broadcast(F, 5f);
        FloatVector a6 = FloatVector.broadcast(F, 6f), a7 = FloatVector.broadcast(F, 7f);
        FloatVector a8 = FloatVector.broadcast(F, 8f), a9 = FloatVector.broadcast(F, 9f);
        FloatVector a10 = FloatVector.broadcast(F, 10f), a11 = FloatVector.broadcast(F, 11f);
        for (int i = 0; i < STEPS; i++) {
            a0 = a0.fma(b, c);
            a1 = a1.fma(b, c);
            a2 = a2.fma(b, c);
            a3 = a3.fma(b, c);
            a4 = a4.fma(b, c);
            a5 = a5.fma(b, c);
            a6 = a6.fma(b, c);
            a7 = a7.fma(b, c);
            a8 = a8.fma(b, c);
            a9 = a9.fma(b, c);
            a10 = a10.fma(b, c);
            a11 = a11.fma(b, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }
}
