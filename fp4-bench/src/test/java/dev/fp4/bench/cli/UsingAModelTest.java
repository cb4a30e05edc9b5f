package dev.fp4.bench.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.LlamaModel;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.data.ByteTokenizer;
import dev.fp4.nn.data.Split;
import dev.fp4.nn.data.TextDataset;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole path with the real model: train, generate, eval, export to Hugging Face and train from it. */
class UsingAModelTest {
    @TempDir
    static Path dir;
    static Path text;
    static Path ck;
    static CliTest.Result trained;

    static CliTest.Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Cli.run(args, new LlamaModels(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new CliTest.Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static final String[] SHAPE = {"--dim", "32", "--layers", "1", "--heads", "4", "--kv-heads", "2", "--ffn", "64", "--seq", "32"};

    static String[] args(String[] head, String... rest) {
        String[] a = Arrays.copyOf(head, head.length + rest.length);
        System.arraycopy(rest, 0, a, head.length, rest.length);
        return a;
    }

    @BeforeAll
    static void train() throws IOException {
        String[] words = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "its", "home", "while", "birds", "sang"};
        SplittableRandom r = new SplittableRandom(1);
        StringBuilder b = new StringBuilder();
        while (b.length() < 30_000) {
            b.append(words[r.nextInt(words.length)]).append(r.nextInt(8) == 0 ? ".\n" : " ");
        }
        text = dir.resolve("text.txt");
        Files.writeString(text, b);
        ck = dir.resolve("ck");
        trained = run(args(new String[] {"train", "--data", text.toString(), "--steps", "30", "--batch", "4", "--recipe", "fp32", "--lr", "0.01",
                "--eval-every", "15", "--eval-batches", "2", "--checkpoint-dir", ck.toString(), "--checkpoint-every", "0"}, SHAPE));
    }

    @Test
    void trainEndsWithTheWholeValidationSplit() {
        assertEquals(0, trained.code(), trained.err());
        assertTrue(trained.out().contains("validation loss over the whole split: "), trained.out());
        assertTrue(trained.err().contains("dim 32, 1 layers, 4 heads (2 kv), ffn 64, context 32, vocabulary 256"), trained.err());
    }

    @Test
    void generateStreamsTheSameTextForTheSameSeed() {
        CliTest.Result a = run("generate", "--checkpoint", ck.toString(), "--prompt", "the cat ", "--max-tokens", "60", "--seed", "5");
        CliTest.Result b = run("generate", "--checkpoint", ck.toString(), "--prompt", "the cat ", "--max-tokens", "60", "--seed", "5");
        CliTest.Result c = run("generate", "--checkpoint", ck.toString(), "--prompt", "the cat ", "--max-tokens", "60", "--seed", "6");
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out(), b.out());
        assertTrue(!a.out().equals(c.out()));
        assertTrue(a.out().startsWith("the cat ") && a.out().length() > 60, a.out());
        assertTrue(a.err().contains("tokens/s") && a.err().contains("linear layers FP32"), a.err());
        CliTest.Result f = run("generate", "--checkpoint", ck.toString(), "--prompt", "the ", "--max-tokens", "40", "--weights", "fp4",
                "--temperature", "0");
        assertEquals(0, f.code(), f.err());
        assertTrue(f.err().contains("linear layers FP4 per-row"), f.err());
        Matcher m = Pattern.compile("in ([\\d,]+) bytes \\(FP32 would be ([\\d,]+)\\)").matcher(f.err());
        assertTrue(m.find(), f.err());
        long fp4 = Long.parseLong(m.group(1).replace(",", ""));
        long fp32 = Long.parseLong(m.group(2).replace(",", ""));
        assertTrue(fp4 * 5 < fp32, fp4 + " vs " + fp32);
    }

    /** eval's loss equals the mean over every position computed window by window from the checkpoint. */
    @Test
    void evalIsTheMeanOverEveryPosition() throws IOException {
        CliTest.Result r = run("eval", "--checkpoint", ck.toString(), "--data", text.toString(), "--batch", "3");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().strip().lines().toList();
        String last = lines.get(lines.size() - 1);
        assertTrue(last.matches("loss: \\d+\\.\\d{6}"), last);
        assertTrue(lines.get(lines.size() - 2).startsWith("perplexity: ") && lines.get(lines.size() - 3).startsWith("bits per byte: ")
                && lines.get(lines.size() - 4).startsWith("tokens: "), r.out());
        double loss = Double.parseDouble(last.substring(6));
        Checkpoint c = new CheckpointDirectory(ck, 1).latestValid().orElseThrow().checkpoint();
        LlamaModel m = new TrainedModel(ck, c).model(null);
        int[] t = ByteTokenizer.INSTANCE.encode(Files.readAllBytes(text));
        double sum = 0;
        for (int s = 0; s < t.length - 1; s += 32) {
            int len = Math.min(32, t.length - 1 - s);
            sum += (double) m.evaluate(Arrays.copyOfRange(t, s, s + len), Arrays.copyOfRange(t, s + 1, s + 1 + len), 1, len) * len;
        }
        assertEquals(sum / (t.length - 1), loss, 2e-6);
        assertEquals("tokens: " + (t.length - 1), lines.get(lines.size() - 4));
        // the validation split alone gives the number train printed for the whole split
        Path val = dir.resolve("val.txt");
        TextDataset d = TextDataset.fromFile(text);
        int[] vt = d.tokens(Split.VALIDATION);
        Files.write(val, ByteTokenizer.INSTANCE.bytes(vt, 0, vt.length));
        CliTest.Result v = run("eval", "--checkpoint", ck.toString(), "--data", val.toString());
        String vl = v.out().strip().lines().reduce((x, y) -> y).orElseThrow();
        Matcher tm = Pattern.compile("whole split: (\\d+\\.\\d{4})").matcher(trained.out());
        assertTrue(tm.find(), trained.out());
        assertEquals(Double.parseDouble(tm.group(1)), Double.parseDouble(vl.substring(6)), 6e-5);
    }

    @Test
    void exportToHuggingFaceAndTrainFromIt() throws IOException {
        Path hf = dir.resolve("hf");
        CliTest.Result e = run("export", "--checkpoint", ck.toString(), "--format", "hf", "--out", hf.toString());
        assertEquals(0, e.code(), e.err());
        assertTrue(Files.exists(hf.resolve("config.json")) && Files.exists(hf.resolve("model.safetensors")));
        CliTest.Result bad = run("train", "--init-from", hf.toString(), "--dim", "64");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("drop --dim"), bad.err());
        Path ck2 = dir.resolve("ck2");
        CliTest.Result t = run("train", "--init-from", hf.toString(), "--data", text.toString(), "--steps", "2", "--batch", "2", "--recipe",
                "fp32", "--eval-every", "1", "--eval-batches", "1", "--checkpoint-dir", ck2.toString(), "--seq", "16");
        assertEquals(0, t.code(), t.err());
        assertTrue(t.err().contains("initialised from"), t.err());
        CliTest.Result b16 = run("export", ck.toString(), "--format", "hf", "--dtype", "bf16", "--out", dir.resolve("hf16").toString());
        assertEquals(0, b16.code(), b16.err());
        assertTrue(Files.readString(dir.resolve("hf16/config.json")).contains("\"torch_dtype\": \"bfloat16\""));
    }

    @Test
    void gpt2Tokenizer() {
        Path ck3 = dir.resolve("ck3");
        CliTest.Result t = run("train", "--tokenizer", "gpt2", "--data", text.toString(), "--steps", "3", "--batch", "2", "--recipe", "fp32",
                "--dim", "16", "--layers", "1", "--heads", "2", "--ffn", "32", "--seq", "16", "--eval-every", "3", "--eval-batches", "1",
                "--checkpoint-dir", ck3.toString());
        assertEquals(0, t.code(), t.err());
        assertTrue(t.err().contains("vocabulary 50257"), t.err());
        CliTest.Result g = run("generate", "--checkpoint", ck3.toString(), "--prompt", "the dog", "--max-tokens", "5");
        assertEquals(0, g.code(), g.err());
        assertTrue(g.out().startsWith("the dog") && g.err().contains("gpt2 tokenizer"), g.out() + g.err());
        CliTest.Result ev = run("eval", "--checkpoint", ck3.toString(), "--data", text.toString());
        assertEquals(0, ev.code(), ev.err());
        assertTrue(ev.out().contains("gpt2 tokenizer"), ev.out());
    }
}
