package dev.fp4.bench.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code fp4 spark-train} on a local[2,2] master: the same summary as {@code train --accum 2}, the CSV, the usage errors. */
class SparkTrainCommandTest {
    @TempDir
    Path dir;

    static CliTest.Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Cli.run(args, new LlamaModels(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new CliTest.Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static final String[] RUN = {"--steps", "6", "--batch", "2", "--seq", "32", "--eval-every", "3", "--eval-batches", "2",
        "--threads", "1", "--corpus-bytes", "100000"};

    static String[] args(String command, Path dir, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of(command));
        a.addAll(List.of(RUN));
        a.addAll(List.of("--checkpoint-dir", dir.toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void twoWorkersPrintTheSummaryOfTrainWithAccumTwoAndWriteTheCsv() throws IOException {
        Path csv = dir.resolve("steps.csv");
        CliTest.Result spark = run(args("spark-train", dir.resolve("spark"), "--master", "local[2,2]", "--workers", "2", "--csv",
                csv.toString(), "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1",
                "--conf", "spark.driver.bindAddress=127.0.0.1"));
        assertEquals(0, spark.code(), spark.err());
        CliTest.Result single = run(args("train", dir.resolve("single"), "--accum", "2"));
        assertEquals(0, single.code(), single.err());
        String[] s = spark.out().split("\\R");
        String[] t = single.out().split("\\R");
        // "fp4-dge-occ: completed 6 steps; final train loss X, validation loss Y, N tokens/s, checkpoint P"
        assertEquals(lossesOf(t[0]), lossesOf(s[0]), spark.out());
        assertTrue(t[1].startsWith("validation loss over the whole split: "), t[1]);
        assertEquals(t[1], s[1], "the whole-split line (the replicas share its windows)");
        assertEquals(t[2], s[2], "the entropy line");
        assertTrue(s[3].startsWith("2 workers, grad-comm fp32: compute "), s[3]);
        List<String> lines = Files.readAllLines(csv);
        assertEquals("step,train_loss,val_loss,lr,grad_norm,tokens_per_s,compute_s_rank0,compute_s_rank1,wait_s_rank0,wait_s_rank1",
                lines.get(0));
        assertEquals(7, lines.size());
        assertEquals(10, lines.get(6).split(",", -1).length, lines.get(6));
    }

    @Test
    void eachCommandResumesTheOthersCheckpoints() throws IOException {
        String[] net = {"--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1"};
        // spark-train writes steps 3 and 6; without step 6, train --resume continues from 3
        Path a = dir.resolve("a");
        CliTest.Result spark = run(concat(args("spark-train", a, "--master", "local[2,2]", "--workers", "2", "--checkpoint-every", "3",
                "--csv", dir.resolve("a.csv").toString()), net));
        assertEquals(0, spark.code(), spark.err());
        dropNewest(a);
        CliTest.Result train = run(args("train", a, "--accum", "2", "--checkpoint-every", "3", "--resume"));
        assertEquals(0, train.code(), train.err());
        assertTrue(train.err().contains("resumed from step 3"), train.err());
        assertEquals(lossesOf(spark.out().lines().findFirst().orElseThrow()), lossesOf(train.out().lines().findFirst().orElseThrow()));
        // and the other way round
        Path b = dir.resolve("b");
        CliTest.Result first = run(args("train", b, "--accum", "2", "--checkpoint-every", "3"));
        assertEquals(0, first.code(), first.err());
        dropNewest(b);
        CliTest.Result resumed = run(concat(args("spark-train", b, "--master", "local[2,2]", "--workers", "2", "--checkpoint-every", "3",
                "--resume", "--csv", dir.resolve("b.csv").toString()), net));
        assertEquals(0, resumed.code(), resumed.err());
        assertEquals(lossesOf(first.out().lines().findFirst().orElseThrow()), lossesOf(resumed.out().lines().findFirst().orElseThrow()));
    }

    private static void dropNewest(Path checkpoints) throws IOException {
        List<Path> all = new dev.fp4.nn.checkpoint.CheckpointDirectory(checkpoints, 3).list();
        Path newest = all.get(all.size() - 1);
        try (var files = Files.walk(newest)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static String lossesOf(String summary) {
        return summary.substring(0, summary.indexOf(" tokens/s")).replaceAll(", [0-9]+$", "");
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', textBlock = """
            --grad-comm fp16                    | --grad-comm must be fp32, bf16 or fp8, got 'fp16'
            --data-mode scatter                 | --data-mode must be broadcast or shard, got 'scatter'
            --data-mode shard                   | --data-mode shard needs --data
            --workers 0                         | --workers must be positive, got 0
            --frame-bytes 8                     | --frame-bytes must be at least 64, got 8
            --recipe nope                       | unknown recipe 'nope'
            --steps 1                           | no Spark master: pass --master
            """)
    void badOptionsAreRefusedInOneLine(String options, String message) {
        List<String> a = new java.util.ArrayList<>(List.of("spark-train", "--checkpoint-dir", dir.toString()));
        a.addAll(List.of(options.trim().split(" ")));
        CliTest.Result r = run(a.toArray(String[]::new));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("fp4 spark-train: ") && r.err().contains(message), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }
}
