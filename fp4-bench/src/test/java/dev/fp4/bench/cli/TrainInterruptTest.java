package dev.fp4.bench.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.data.MarkovCorpus;
import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.train.StepRecord;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.nn.train.TrainingListener;
import dev.fp4.nn.train.TrainingResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ctrl-C and {@code --resume} of {@code fp4 train}: the shutdown hook's code path writes a checkpoint
 * of the step in progress before the JVM may exit (in-process, deterministic), a real {@code fp4}
 * process sent SIGINT does the same (subprocess, Linux), and {@code --resume} skips a corrupt
 * newest checkpoint and reproduces it bit for bit.
 */
class TrainInterruptTest {
    @TempDir
    Path dir;

    /**
     * Runs exactly what the hook registered by {@code TrainCommand} runs, on its own thread as the JVM
     * would on SIGINT, while the trainer is inside its loop.
     */
    @Test
    @Timeout(120) // hang guard only
    void theShutdownHookPathWritesACheckpointBeforeLettingTheJvmExit() throws Exception {
        TextDataset data = MarkovCorpus.generate(MarkovCorpus.Spec.defaults()).dataset(50_000, 3);
        TrainingConfig cfg = TrainingConfig.defaults().withSteps(1_000_000).withBatch(4, 16).withIntervals(100_000, 1, 0);
        CheckpointDirectory ckpts = new CheckpointDirectory(dir.resolve("ck"), 3);
        Trainer trainer = new Trainer(new FakeModels().create(new FakeModels().preset("tiny"), "bf16", 1), data, cfg, ckpts);
        CountDownLatch done = new CountDownLatch(1);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread hook = new Thread(TrainCommand.stopAndAwait(trainer, done, new PrintStream(err, true, StandardCharsets.UTF_8)), "test-hook");
        TrainingResult r = trainer.run(new TrainingListener() {
            @Override
            public void onStep(StepRecord s, long total) {
                if (s.step() == 3) {
                    hook.start();                               // "Ctrl-C" during step 4
                }
            }
        });
        assertTrue(hook.isAlive(), "the hook holds the JVM until run() has returned with the checkpoint written");
        Thread.sleep(50);
        assertTrue(hook.isAlive(), "still waiting for the latch, not for a timer");
        done.countDown();                                       // what TrainCommand does after run()
        hook.join(TimeUnit.SECONDS.toMillis(60));
        assertFalse(hook.isAlive(), "the hook returns once run() has returned");

        assertEquals(TrainingResult.Status.INTERRUPTED, r.status(), r.message());
        assertTrue(r.stepsCompleted() >= 3 && r.stepsCompleted() < cfg.steps(), "stopped after step " + r.stepsCompleted());
        assertTrue(r.message().contains("stopped on request after step " + r.stepsCompleted()), r.message());
        CheckpointDirectory.Loaded last = ckpts.latestValid().orElseThrow();
        assertEquals(ckpts.pathFor(r.stepsCompleted()), last.path());
        assertEquals(last.path(), r.lastCheckpoint());
        assertEquals(trainer.checkpoint(), last.checkpoint(), "the checkpoint holds the state at the stop, optimizer included");
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("stopping: finishing the current step and writing a checkpoint"), err.toString());
    }

    /**
     * The real thing: {@code dev.fp4.bench.Main train} in a child JVM, sent SIGINT once its first
     * progress line shows it is inside the training loop (the hook is registered before the loop).
     * A JVM installs its SIGINT handler only when SIGINT is not ignored at startup, and a child of a
     * non-interactive shell's background job inherits SIGINT as ignored; the test therefore reads the
     * child's caught-signal mask from /proc and falls back to SIGTERM, which runs the same shutdown
     * hooks, when SIGINT is not caught. Exit status is 128 + the signal, as for any JVM ended by one.
     */
    @Test
    @Timeout(300) // hang guard only
    void aRealProcessSentCtrlCWritesACheckpointAndExits() throws Exception {
        assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux /proc to find the child's signal mask");
        Path ck = dir.resolve("ck");
        Path out = dir.resolve("out.txt");
        Path errFile = dir.resolve("err.txt");
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"), "dev.fp4.bench.Main",
                "train", "--preset", "tiny", "--steps", "1000000", "--batch", "2", "--seq", "16", "--corpus-bytes", "50000",
                "--eval-every", "100000", "--eval-batches", "1", "--checkpoint-dir", ck.toString(), "--checkpoint-every", "0",
                "--recipe", "bf16", "--threads", "1"));
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(errFile.toFile()).start();
        try {
            // No clock here: the method's @Timeout is the only guard against a child that hangs.
            while (!Files.readString(errFile).contains("step 1/")) {
                assertTrue(p.isAlive(), "fp4 train ended early: " + Files.readString(errFile));
                Thread.sleep(50);
            }
            int signal = catches(p.pid(), 2) ? 2 : 15;
            if (signal == 2) {
                Process kill = new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).inheritIO().start();
                assertEquals(0, kill.waitFor());
            } else {
                p.destroy();                                    // SIGTERM on Unix
            }
            assertTrue(p.waitFor(200, TimeUnit.SECONDS), "fp4 train did not exit after the signal");
            String stdout = Files.readString(out);
            String stderr = Files.readString(errFile);
            System.out.println("SIGNAL fp4 train sent signal " + signal + ", exit " + p.exitValue() + ": " + stdout.strip());
            assertEquals(128 + signal, p.exitValue(), stderr);
            assertTrue(stderr.contains("stopping: finishing the current step and writing a checkpoint"), stderr);
            Matcher m = Pattern.compile("stopped on request after step (\\d+); checkpoint ([^;\\s]+)").matcher(stdout);
            assertTrue(m.find(), stdout + stderr);
            long step = Long.parseLong(m.group(1));
            Checkpoint c = Checkpoint.read(Path.of(m.group(2)));
            assertEquals(step, c.step());
            assertEquals(new CheckpointDirectory(ck, 3).pathFor(step), Path.of(m.group(2)));
            assertEquals("bf16", c.recipe());
        } finally {
            p.destroyForcibly();
        }
    }

    /** Whether process {@code pid} has a handler installed for signal {@code sig} (SigCgt in /proc). */
    static boolean catches(long pid, int sig) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("SigCgt:")) {
                return (Long.parseUnsignedLong(line.substring(7).strip(), 16) >>> (sig - 1) & 1) != 0;
            }
        }
        return false;
    }

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Cli.run(args, new FakeModels(), new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void resumeSkipsACorruptNewestCheckpointAndRewritesItBitForBit() throws IOException {
        Path ck = dir.resolve("ck");
        String[] base = {"train", "--steps", "8", "--batch", "4", "--eval-every", "4", "--eval-batches", "1", "--corpus-bytes", "50000",
                "--checkpoint-dir", ck.toString(), "--checkpoint-every", "4", "--keep", "3", "--recipe", "bf16", "--lr", "0.3"};
        Result first = run(base);
        assertEquals(0, first.code(), first.err());
        CheckpointDirectory d = new CheckpointDirectory(ck, 3);
        byte[] at8 = Files.readAllBytes(d.pathFor(8));
        byte[] at4 = Files.readAllBytes(d.pathFor(4));
        Files.write(d.pathFor(8), Arrays.copyOf(at8, at8.length / 2));     // a crash on a file system without atomic rename
        String[] resume = Arrays.copyOf(base, base.length + 1);
        resume[base.length] = "--resume";
        Result r = run(resume);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("resumed from step 4"), r.err());
        assertTrue(r.out().contains("completed 8 steps"), r.out());
        assertArrayEquals(at4, Files.readAllBytes(d.pathFor(4)), "the valid checkpoint is untouched");
        assertArrayEquals(at8, Files.readAllBytes(d.pathFor(8)), "resuming reproduced the lost checkpoint bit for bit");
    }
}
