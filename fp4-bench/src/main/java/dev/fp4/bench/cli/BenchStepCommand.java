package dev.fp4.bench.cli;

import dev.fp4.bench.TrainStep;
import dev.fp4.core.simd.Simd;
import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.StepProfile;
import dev.fp4.nn.StepProfile.Phase;
import dev.fp4.nn.recipe.PrecisionRecipe;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fp4 bench-step}: times full training steps (forward, backward, AdamW) of a preset under a
 * recipe and prints where the time goes, then {@code tokens/s: N} as the last line.
 *
 * <p>The breakdown comes from {@link StepProfile} (wall-clock per phase on the stepping thread)
 * over separate profiled steps; the quantization share is the step's quantization work timed on
 * its own at the same shapes, and GeMM is the linear layers' time minus it. tokens/s comes from
 * the unprofiled steps.
 */
@Command(name = "bench-step",
        description = {"Times full training steps (forward, backward, AdamW) and prints the time per phase"
                + " (GeMM, quantization, attention, element-wise, optimizer) and, last, 'tokens/s: N'."})
final class BenchStepCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    private final Cli root;

    @Option(names = "--help", usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Option(names = "--preset", paramLabel = "NAME", description = "Model size preset: tiny, small or medium. Default: ${DEFAULT-VALUE}.")
    String preset = "small";

    @Option(names = "--recipe", paramLabel = "NAME", description = "Precision recipe. Default: ${DEFAULT-VALUE}.")
    String recipe = "fp32";

    @Option(names = "--threads", paramLabel = "N", description = "Threads of the shared pool. Default: all processors.")
    Integer threads;

    @Option(names = "--batch", paramLabel = "N", description = "Sequences per step. Default: ${DEFAULT-VALUE}.")
    int batch = 16;

    @Option(names = "--seq", paramLabel = "N", description = "Tokens per sequence. Default: the preset's context length.")
    Integer seq;

    @Option(names = "--warmup", paramLabel = "N", description = "Untimed steps first (JIT warm-up). Default: ${DEFAULT-VALUE}.")
    int warmup = 3;

    @Option(names = "--steps", paramLabel = "N", description = "Timed steps. Default: ${DEFAULT-VALUE}.")
    int steps = 5;

    BenchStepCommand(Cli root) {
        this.root = root;
    }

    @Override
    public Integer call() {
        CommandLine cl = spec.commandLine();
        Runs.positive(cl, "--batch", batch);
        Runs.positive(cl, "--steps", steps);
        if (warmup < 0) {
            throw new CommandLine.ParameterException(cl, "--warmup must be zero or positive, got " + warmup);
        }
        if (threads != null) {
            Runs.positive(cl, "--threads", threads);
        }
        if (!LlamaConfig.PRESETS.contains(preset)) {
            throw new CommandLine.ParameterException(cl, "unknown preset '" + preset + "'; valid presets: "
                    + String.join(", ", LlamaConfig.PRESETS));
        }
        if (!PrecisionRecipe.names().contains(recipe)) {
            throw new CommandLine.ParameterException(cl, "unknown recipe '" + recipe + "'; valid recipes: "
                    + String.join(", ", PrecisionRecipe.names()));
        }
        int max = LlamaConfig.preset(preset).maxSeq();
        int s = seq != null ? seq : max;
        Runs.positive(cl, "--seq", s);
        if (s > max) {
            throw new CommandLine.ParameterException(cl, "--seq " + s + " exceeds the " + preset + " preset's context of " + max);
        }
        if (threads != null) {
            dev.fp4.core.gemm.Gemm.setThreads(threads);
        }
        TrainStep step = new TrainStep(preset, recipe, batch, s, 1);
        var out = root.out;
        out.printf(Locale.ROOT, "bench-step: preset %s, recipe %s, batch %d, seq %d, threads %d, vector bits %d%n",
                preset, recipe, batch, s, dev.fp4.core.gemm.Gemm.threads(), Simd.BITS);
        for (int i = 0; i < warmup; i++) {
            step.step();
        }
        // Timed steps without the profile.
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long c0 = mx.isCurrentThreadCpuTimeSupported() ? mx.getCurrentThreadCpuTime() : -1;
        long t0 = System.nanoTime();
        float loss = 0;
        for (int i = 0; i < steps; i++) {
            loss = step.step();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        double cpuMsPerStep = c0 < 0 ? Double.NaN : (mx.getCurrentThreadCpuTime() - c0) / 1e6 / steps;
        double msPerStep = seconds * 1e3 / steps;
        // Profiled steps for the breakdown.
        StepProfile.reset();
        StepProfile.setEnabled(true);
        long p0 = System.nanoTime();
        try {
            for (int i = 0; i < steps; i++) {
                step.step();
            }
        } finally {
            StepProfile.setEnabled(false);
        }
        double profiledMs = (System.nanoTime() - p0) / 1e6 / steps;
        double quantMs = 0;
        if (step.quantizationCount() > 0) {
            step.quantizeOnce();
            long q0 = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                step.quantizeOnce();
            }
            quantMs = (System.nanoTime() - q0) / 1e6 / steps;
        }
        double linearMs = ms(Phase.LINEAR, steps);
        double attentionMs = ms(Phase.ATTENTION, steps);
        double elementMs = ms(Phase.ELEMENTWISE, steps);
        double optimizerMs = ms(Phase.OPTIMIZER, steps);
        double gemmMs = Math.max(0, linearMs - quantMs);
        double otherMs = Math.max(0, profiledMs - linearMs - attentionMs - elementMs - optimizerMs);
        out.printf(Locale.ROOT, "warm-up %d steps, timed %d steps; last loss %.4f%n", warmup, steps, loss);
        out.println("phase           ms/step   share");
        row(out, "GeMM", gemmMs, profiledMs);
        row(out, "quantization", quantMs, profiledMs);
        row(out, "attention", attentionMs, profiledMs);
        row(out, "element-wise", elementMs, profiledMs);
        row(out, "optimizer", optimizerMs, profiledMs);
        row(out, "other", otherMs, profiledMs);
        row(out, "total", profiledMs, profiledMs);
        out.printf(Locale.ROOT, "ms/step (unprofiled): %.1f%n", msPerStep);
        // CPU time of the stepping thread: with --threads 1 the whole step, and much less sensitive
        // to other processes on a shared machine than the wall clock (not to their cache traffic).
        out.printf(Locale.ROOT, "cpu ms/step (stepping thread): %.1f%n", cpuMsPerStep);
        step.dropQuantizationOperands();
        long tails = regionTailBytes();
        if (tails >= 0) {
            out.printf(Locale.ROOT, "G1 region tails in the live heap: %d MB%n", Math.round(tails / 1e6));
        }
        out.printf(Locale.ROOT, "live heap: %d MB%n", Math.round(liveHeapBytes() / 1e6));
        out.printf(Locale.ROOT, "tokens/s: %d%n", Math.round(step.tokensPerStep() * steps / seconds));
        return 0;
    }

    private static double ms(Phase p, int steps) {
        return StepProfile.nanos(p) / 1e6 / steps;
    }

    private static void row(java.io.PrintStream out, String name, double ms, double total) {
        out.printf(Locale.ROOT, "%-14s %8.1f  %5.1f%%%n", name, ms, total > 0 ? 100 * ms / total : 0);
    }

    /**
     * Bytes of the live heap that hold no object: the unused ends of the regions G1 gives to
     * humongous arrays (one at least half a region long takes whole regions; the rest of its last
     * region is a filler). Counted by the JVM's class histogram (a full collection first); -1 when
     * the diagnostic command is not available. Part of {@link #liveHeapBytes()}, and memory the JVM
     * really needs, but a property of the array sizes and G1's region size, not of a recipe.
     */
    static long regionTailBytes() {
        try {
            var server = java.lang.management.ManagementFactory.getPlatformMBeanServer();
            var name = new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand");
            String histogram = (String) server.invoke(name, "gcClassHistogram", new Object[] {new String[0]},
                    new String[] {String[].class.getName()});
            long bytes = 0;
            for (String line : histogram.split("\n")) {
                if (line.contains("jdk.internal.vm.FillerElement")) {
                    bytes += Long.parseLong(line.trim().split("\\s+")[2]);
                }
            }
            return bytes;
        } catch (Exception | LinkageError e) {
            return -1;
        }
    }

    /**
     * Bytes of the heap in use after a full collection, while the caller still holds the model,
     * its buffers and the optimizer: what a training step needs to keep (the figure to compare
     * between recipes). Asks for a collection a few times until the figure settles.
     */
    static long liveHeapBytes() {
        Runtime rt = Runtime.getRuntime();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 4; i++) {
            System.gc();
            best = Math.min(best, rt.totalMemory() - rt.freeMemory());
        }
        return best;
    }
}
