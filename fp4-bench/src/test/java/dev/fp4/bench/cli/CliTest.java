package dev.fp4.bench.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import dev.fp4.core.quant.Fp4Tensor;
import dev.fp4.nn.Parameter;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.Fp4Entry;
import dev.fp4.nn.checkpoint.SafeTensors;
import dev.fp4.nn.checkpoint.SafeTensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CliTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Cli.run(args, new FakeModels(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @ParameterizedTest
    @ValueSource(strings = {"train", "compare", "generate", "eval", "jmh", "export", "plot", "bench-step"})
    void everyCommandHasHelp(String cmd) {
        Result r = run(cmd, "--help");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("Usage: fp4 " + cmd), r.out());
        assertEquals(0, run("--help").code());
        if (cmd.equals("train") || cmd.equals("compare")) {
            // picocli formats descriptions with String.format: a bare '%' falls back to raw text with a warning
            String flat = r.out().replaceAll("\\s+", " ");
            assertTrue(flat.contains("last 10% of the tokens held out") && flat.contains("tiny, small or medium"), r.out());
        }
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', textBlock = """
            compare --bogus                    | Unknown option: '--bogus'
            compare --steps -3                 | --steps must be positive, got -3
            compare --steps many               | Invalid value for option '--steps'
            compare --recipes bf16,nope        | unknown recipe 'nope'; valid recipes: bf16, fp4-direct, fp4-dge-occ, fp4-modulewise
            compare --recipes bf16,bf16        | lists a recipe twice
            compare --preset huge              | unknown preset 'huge'; valid presets: tiny, small
            compare --kv-heads 3               | invalid model shape: kvHeads 3 does not divide heads 1
            compare --config c.json --preset tiny | give --preset or --config, not both
            compare --tokenizer sp             | unknown tokenizer 'sp'; valid tokenizers: byte, gpt2
            compare --tokenizer gpt2           | --tokenizer gpt2 needs --data FILE
            generate                           | Missing required option: '--checkpoint=PATH'
            generate --checkpoint none.st      | checkpoint not found: none.st
            generate --checkpoint x --top-p 0  | top-p must be in (0, 1]
            eval --checkpoint x                | Missing required option: '--data=FILE'
            train --recipe nope                | unknown recipe 'nope'
            train --moments fp9                | Invalid value for option '--moments'
            train --lr 0                       | --lr must be a positive number
            ''                                 | missing command
            """)
    void badOptionsGiveOneLineAndExitCode2(String args, String expected) {
        Result r = run(args.isEmpty() ? new String[0] : args.split(" "));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains(expected), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
    }

    @Test
    void missingOrTinyDataFilesAreUsageErrors() throws IOException {
        Result r = run("compare", "--data", dir.resolve("none.txt").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("data file not found") && r.err().contains("none.txt"), r.err());
        Path small = dir.resolve("small.txt");
        Files.writeString(small, "tiny");
        r = run("compare", "--data", small.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("small.txt") && r.err().contains("too small"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void compareWritesCsvPngAndSummary() throws IOException {
        Path out = dir.resolve("cmp");
        Result r = run("compare", "--steps", "12", "--batch", "4", "--eval-every", "5", "--eval-batches", "2",
                "--recipes", "bf16,fp4-direct", "--corpus-bytes", "50000", "--out", out.toString(), "--lr", "0.3");
        assertEquals(0, r.code(), r.err());
        List<String> csv = Files.readAllLines(out.resolve("losses.csv"));
        assertEquals("recipe,step,train_loss,val_loss", csv.get(0));
        assertEquals(1 + 2 * 12, csv.size());
        assertTrue(csv.get(1).matches("bf16,1,\\d+\\.\\d{6},"), csv.get(1));
        assertTrue(csv.get(5).matches("bf16,5,\\d+\\.\\d{6},\\d+\\.\\d{6}"), csv.get(5));   // evaluated at 5, 10, 12
        assertTrue(csv.get(24).matches("fp4-direct,12,\\d+\\.\\d{6},\\d+\\.\\d{6}"), csv.get(24));
        byte[] png = Files.readAllBytes(out.resolve("losses.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
        String md = Files.readString(out.resolve("summary.md"));
        assertTrue(md.contains("| recipe | final train loss | val loss (sampled) | val loss (whole split) | excess over entropy (val) |"
                + " gap to bf16 [95% CI] |"), md);
        assertTrue(md.contains("| bf16 |") && md.contains("| fp4-direct |") && md.contains("+0.00%"), md);
        // the fake model is the same under both names: the same windows give a gap of exactly 0
        assertTrue(md.contains("+0.0000 [+0.0000, +0.0000]"), md);
        assertTrue(md.contains("nats per byte"), md);
        assertTrue(r.out().contains("wrote "), r.out());
        // identical model, data and seed under two recipe names → identical curves (determinism)
        assertEquals(csv.get(12).substring(csv.get(12).indexOf(',')), csv.get(24).substring(csv.get(24).indexOf(',')));
    }

    @Test
    void trainCheckpointsAndResumes() throws IOException {
        Path ck = dir.resolve("ck");
        String[] base = {"train", "--steps", "10", "--batch", "4", "--eval-every", "5", "--eval-batches", "1", "--corpus-bytes", "50000",
                "--checkpoint-dir", ck.toString(), "--checkpoint-every", "4", "--recipe", "bf16", "--lr", "0.3"};
        Result r = run(base);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("completed 10 steps") && r.out().contains("excess"), r.out());
        assertTrue(Files.exists(ck.resolve("ckpt-0000000010.safetensors")));
        Result again = run(base);
        assertEquals(2, again.code());
        assertTrue(again.err().contains("already holds checkpoints"), again.err());
        String[] resume = Arrays.copyOf(base, base.length + 1);
        resume[base.length] = "--resume";
        Result res = run(resume);
        assertEquals(0, res.code(), res.err());
        assertTrue(res.err().contains("resumed from step 10"), res.err());
        Result none = run(new String[] {"train", "--resume", "--checkpoint-dir", dir.resolve("empty").toString(), "--corpus-bytes", "50000"});
        assertEquals(2, none.code());
        assertTrue(none.err().contains("no valid checkpoint"), none.err());
    }

    /** Progress bar or log lines, not both; --quiet leaves stderr to warnings and errors. */
    @Test
    void progressBarLogLinesAndQuiet() {
        String[] base = {"train", "--steps", "10", "--batch", "4", "--eval-every", "5", "--eval-batches", "1", "--corpus-bytes", "50000",
                "--recipe", "bf16", "--lr", "0.3", "--checkpoint-every", "0"};
        Result bar = run(with(base, "--checkpoint-dir", dir.resolve("a").toString()));
        assertEquals(0, bar.code(), bar.err());
        assertTrue(bar.err().contains("step 10/10") && bar.err().contains("training preset"), bar.err());
        Result info = run(with(base, "--checkpoint-dir", dir.resolve("b").toString(), "--log-level", "info"));
        assertEquals(0, info.code(), info.err());
        assertTrue(!info.err().contains("step 10/10") && info.err().contains("training preset"), info.err());
        Result quiet = run(with(base, "--checkpoint-dir", dir.resolve("c").toString(), "--quiet"));
        assertEquals(0, quiet.code(), quiet.err());
        assertEquals("", quiet.err());
        assertEquals(bar.out().lines().filter(l -> l.contains("validation loss")).count(),
                quiet.out().lines().filter(l -> l.contains("validation loss")).count(), quiet.out());
        Result bad = run("train", "--log-level", "loud");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--log-level must be one of error, warn, info, debug, got loud"), bad.err());
    }

    /**
     * Help descriptions are paragraphs that picocli wraps to the terminal, never lines broken in the
     * middle of a sentence: every description element of every command and option ends a sentence.
     */
    @Test
    void helpDescriptionsAreWholeParagraphs() {
        picocli.CommandLine cl = Cli.commandLine(new Cli(new FakeModels(), System.out, System.err));
        List<picocli.CommandLine> commands = new java.util.ArrayList<>(cl.getSubcommands().values());
        commands.add(cl);
        for (picocli.CommandLine c : commands) {
            String name = c.getCommandSpec().qualifiedName();
            List<String> texts = new java.util.ArrayList<>(List.of(c.getCommandSpec().usageMessage().description()));
            c.getCommandSpec().options().forEach(o -> texts.addAll(List.of(o.description())));
            c.getCommandSpec().positionalParameters().forEach(o -> texts.addAll(List.of(o.description())));
            for (String t : texts) {
                assertTrue(t.strip().matches("(?s).*[.:!?)]"), name + ": a description breaks mid-sentence: '" + t + "'");
            }
        }
    }

    private static String[] with(String[] base, String... more) {
        String[] a = Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, a, base.length, more.length);
        return a;
    }

    /** A checkpoint's linear weights come out as FP4 entries that dequantize like Fp4Tensor; the rest stays F32. */
    @ParameterizedTest
    @ValueSource(strings = {"per-row", "per-tensor", "mxfp4", "nvfp4", "nvfp4-2d"})
    void exportWritesFp4Weights(String scheme) throws IOException {
        SplittableRandom rnd = new SplittableRandom(3);
        Parameter wq = new Parameter("layers.0.attn.wq", 24, 40);
        Parameter norm = new Parameter("layers.0.attn_norm", 40);
        Parameter emb = new Parameter("tok_embeddings", 16, 40);
        for (Parameter p : List.of(wq, norm, emb)) {
            for (int i = 0; i < p.data().length; i++) {
                p.data()[i] = (float) rnd.nextGaussian();
            }
        }
        Path ck = dir.resolve("ckpt.safetensors");
        Checkpoint.capture(7, 1, Map.of(), "fp4-dge-occ", Map.of(), List.of(wq, norm, emb), Map.of(), Map.of()).write(ck);
        Path out = dir.resolve("w.safetensors");
        Result r = run("export", ck.toString(), "--out", out.toString(), "--scheme", scheme);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("1 linear weights in FP4"), r.out());
        SafeTensorsFile f = SafeTensors.read(out);
        Fp4Entry e = Fp4Entry.from(f, "layers.0.attn.wq");
        float[] want = Fp4Tensor.quantize(wq.data(), 24, 40, ExportCommand.SCHEMES.get(scheme)).dequantize();
        assertArrayEquals(want, e.dequantize());
        assertArrayEquals(norm.data(), f.tensors().get("layers.0.attn_norm").toFloats());
        assertArrayEquals(emb.data(), f.tensors().get("tok_embeddings").toFloats());
        assertEquals("fp4-dge-occ", f.metadata().get("fp4.recipe"));
    }

    @Test
    void plotMergesCsvFilesAndRejectsBadOnes() throws IOException {
        Path a = dir.resolve("a.csv");
        Path b = dir.resolve("b.csv");
        Files.writeString(a, "recipe,step,train_loss,val_loss\nbf16,1,3.000000,\nbf16,2,2.500000,2.600000\n");
        Files.writeString(b, "recipe,step,train_loss,val_loss\nfp4-dge-occ,1,3.100000,\nfp4-dge-occ,2,2.400000,2.500000\n");
        Path out = dir.resolve("merged");
        Result r = run("plot", a.toString(), b.toString(), "--out", out.toString(), "--title", "t");
        assertEquals(0, r.code(), r.err());
        assertEquals(Files.readString(a) + Files.readString(b).substring("recipe,step,train_loss,val_loss\n".length()),
                Files.readString(out.resolve("losses.csv")));
        assertTrue(Files.size(out.resolve("losses.png")) > 1000);
        Result twice = run("plot", a.toString(), a.toString(), "--out", out.toString());
        assertEquals(2, twice.code());
        assertTrue(twice.err().contains("recipe 'bf16' already came from an earlier file"), twice.err());
        Path bad = dir.resolve("bad.csv");
        Files.writeString(bad, "recipe,step,train_loss,val_loss\nbf16,x,1.0,\n");
        Result badRow = run("plot", bad.toString(), "--out", out.toString());
        assertEquals(2, badRow.code());
        assertTrue(badRow.err().contains("bad.csv:2: bad row 'bf16,x,1.0,'"), badRow.err());
        Files.writeString(bad, "a,b\n");
        assertTrue(run("plot", bad.toString(), "--out", out.toString()).err().contains("not a losses.csv"));
    }

    @Test
    void exportRejectsBadInput() throws IOException {
        Result missing = run("export", dir.resolve("nope.safetensors").toString(), "--out", dir.resolve("o").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("nope.safetensors"), missing.err());
        Path junk = dir.resolve("junk.safetensors");
        Files.write(junk, new byte[] {1, 2, 3});
        Result corrupt = run("export", junk.toString(), "--out", dir.resolve("o").toString());
        assertEquals(1, corrupt.code());
        assertTrue(corrupt.err().contains("junk.safetensors"), corrupt.err());
        Result scheme = run("export", junk.toString(), "--out", dir.resolve("o").toString(), "--scheme", "fp3");
        assertEquals(2, scheme.code());
        assertTrue(scheme.err().contains("valid: per-row, per-tensor, mxfp4, nvfp4, nvfp4-2d"), scheme.err());
        assertTrue(Files.notExists(dir.resolve("o")));
    }

    @Test
    void progressLineFormat() {
        assertEquals("x [##########..........] step 50/100  loss 2.5000  val 2.4000  1234 tok/s  ETA 1:05",
                ProgressBar.format("x", 50, 100, 2.5, 2.4, 1234.4, 65));
    }
}
