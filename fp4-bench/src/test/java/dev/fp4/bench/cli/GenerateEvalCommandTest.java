package dev.fp4.bench.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code fp4 generate} and {@code fp4 eval} on a checkpoint that {@code fp4 train} wrote. */
class GenerateEvalCommandTest {
    @TempDir
    Path dir;

    @BeforeEach
    void train() {
        CliTest.Result r = SparkTrainCommandTest.run("train", "--steps", "3", "--batch", "2", "--seq", "32", "--threads", "1",
                "--corpus-bytes", "20000", "--checkpoint-dir", dir.resolve("ck").toString());
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void generateStreamsThePromptAndTheSameTextForASeed() {
        String[] args = {"generate", "--checkpoint", dir.resolve("ck").toString(), "--prompt", "the ", "--max-tokens", "20", "--seed", "5"};
        CliTest.Result a = SparkTrainCommandTest.run(args);
        CliTest.Result b = SparkTrainCommandTest.run(args);
        assertEquals(0, a.code(), a.err());
        assertTrue(a.out().startsWith("the "), a.out());
        assertEquals(a.out(), b.out());
        assertTrue(a.err().contains("generated 20 tokens at "), a.err());
        CliTest.Result fp4 = SparkTrainCommandTest.run("generate", "--checkpoint", dir.resolve("ck").toString(), "--weights", "fp4",
                "--max-tokens", "5");
        assertEquals(0, fp4.code(), fp4.err());
        assertTrue(fp4.err().contains("(fp4: NVFP4 codes and scales)"), fp4.err());
    }

    @Test
    void evalEndsWithTheLossLine() throws IOException {
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "to be or not to be, that is the question. ".repeat(40));
        CliTest.Result r = SparkTrainCommandTest.run("eval", "--checkpoint", dir.resolve("ck").toString(), "--data", text.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(4, lines.size(), r.out());
        assertTrue(lines.get(0).startsWith("tokens: 1679 predicted"), lines.get(0));
        assertTrue(lines.get(3).matches("loss: [0-9]+\\.[0-9]{6}"), lines.get(3));
        double loss = Double.parseDouble(lines.get(3).substring(6));
        double bpb = Double.parseDouble(lines.get(1).substring("bits per byte: ".length()));
        assertEquals(loss / Math.log(2), bpb, 1e-5);
    }
}
