package dev.fp4.bench.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code fp4 bench-step}: usage errors, the breakdown, and the last line {@code tokens/s: N}. */
class BenchStepCommandTest {
    private final int saved = dev.fp4.core.gemm.Gemm.threads();

    @AfterEach
    void restore() {
        dev.fp4.core.gemm.Gemm.setThreads(saved);
    }

    @Test
    void runsTheTinyPresetAndEndsWithTokensPerSecond() {
        CliTest.Result r = CliTest.run("bench-step", "--preset", "tiny", "--recipe", "fp32", "--threads", "2",
                "--batch", "2", "--seq", "16", "--warmup", "1", "--steps", "2");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.get(0).startsWith("bench-step: preset tiny, recipe fp32, batch 2, seq 16, threads 2"), r.out());
        for (String phase : new String[] {"GeMM", "quantization", "attention", "element-wise", "optimizer", "total"}) {
            assertTrue(lines.stream().anyMatch(l -> l.startsWith(phase + " ")), () -> "no " + phase + " row in\n" + r.out());
        }
        String last = lines.get(lines.size() - 1);
        assertTrue(last.matches("tokens/s: [1-9][0-9]*"), last);
    }

    @Test
    void hasHelp() {
        CliTest.Result r = CliTest.run("bench-step", "--help");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Usage: fp4 bench-step"), r.out());
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', textBlock = """
            bench-step --recipe nope         | unknown recipe 'nope'; valid recipes: fp32
            bench-step --preset huge         | unknown preset 'huge'; valid presets: tiny, small
            bench-step --threads 0           | --threads must be positive, got 0
            bench-step --steps 0             | --steps must be positive, got 0
            bench-step --warmup -1           | --warmup must be zero or positive, got -1
            bench-step --preset tiny --seq 65 | --seq 65 exceeds the tiny preset's context of 64
            """)
    void reportsUsageErrorsInOneLine(String args, String message) {
        CliTest.Result r = CliTest.run(args.trim().split("\\s+"));
        assertEquals(Cli.USAGE, r.code(), r.out() + r.err());
        assertTrue(r.err().contains(message), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }
}
