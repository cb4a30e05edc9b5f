package dev.fp4.bench.jmh;

import dev.fp4.bench.TrainStep;
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
 * Throughput of a full training step ({@link TrainStep}: forward, backward, AdamW) of the
 * {@code small} and {@code medium} presets at batch 16, sequence 256, per recipe and thread count.
 * The score is steps/s; the auxiliary counter {@code tokens} gives tokens/s (steps/s × batch·seq).
 * {@code fp4 jmh TrainStepBench ...} adds JMH's GC profiler ({@code -prof gc}: allocation per step)
 * unless another profiler is asked for. Run e.g.
 * {@code ./fp4 jmh TrainStepBench -p recipe=fp32,fp4-dge-occ -p preset=medium -p batch=4 -p threads=1}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 5)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xmx4g"})
public class TrainStepBench {

    /** A name of {@code PrecisionRecipe.names()}. */
    @Param({"fp32"})
    public String recipe;

    /** Threads of the shared pool. */
    @Param({"1", "2"})
    public int threads;

    /** Sequences per step. */
    @Param({"16"})
    public int batch;

    /** Tokens per sequence. */
    @Param({"256"})
    public int seq;

    /** Model preset. */
    @Param({"small", "medium"})
    public String preset;

    private TrainStep step;

    /** Tokens processed, reported per second by JMH. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Tokens {
        /** Tokens of the steps run in this iteration. */
        public long tokens;

        /** Starts each iteration at zero. */
        @Setup(Level.Iteration)
        public void clear() {
            tokens = 0;
        }
    }

    /** Builds the model and runs one step so that every buffer exists. */
    @Setup(Level.Trial)
    public void setUp() {
        dev.fp4.core.gemm.Gemm.setThreads(threads);
        step = new TrainStep(preset, recipe, batch, seq, 1);
        step.step();
    }

    /** One training step; returns the loss. */
    @Benchmark
    public float step(Tokens counter) {
        counter.tokens += step.tokensPerStep();
        return step.step();
    }
}
