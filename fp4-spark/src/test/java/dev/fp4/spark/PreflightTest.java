package dev.fp4.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.LlamaConfig;
import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import dev.fp4.nn.train.LlamaTrainable;
import dev.fp4.nn.train.Trainer;
import dev.fp4.nn.train.TrainingConfig;
import dev.fp4.nn.train.TrainingResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What is checked on the driver before the barrier stage starts (each with its message), and the
 * data read through Spark: a file, a directory, a glob, and shards.
 */
class PreflightTest {
    static final TrainingConfig CFG = TrainingConfig.defaults().withSteps(4).withBatch(2, 32).withIntervals(2, 2, 0);
    static JavaSparkContext sc;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        sc = new JavaSparkContext(SparkTrainerTest.conf("local[2]"));
    }

    @AfterAll
    static void stop() {
        sc.stop();
    }

    static SparkTrainingResult fit(SparkTrainingData data, SparkTrainingOptions options) {
        return SparkTrainer.fit(sc, data, LlamaConfig.tiny(), "fp32", CFG, options, new SparkTrainingListener() {
        });
    }

    @Test
    void moreWorkersThanTaskSlots() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> fit(SparkTrainerTest.data(), SparkTrainingOptions.workers(3)));
        assertEquals("3 workers need 3 free task slots, and master local[2] offers 2 (executors x cores / spark.task.cpus): "
                + "lower --workers or add executors", e.getMessage());
    }

    @Test
    void shardsThatAreNotOnePartitionPerWorker() throws IOException {
        Files.write(dir.resolve("only.txt"), SparkTrainerTest.CORPUS.sample(10_000, 1));
        SparkTrainingData data = SparkTrainingData.readShards(sc, dir.toString(), 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> fit(data, SparkTrainingOptions.workers(2)));
        assertEquals("data " + dir + " comes in 1 partitions, and --data-mode shard needs one partition per worker (2): give 2 files of "
                + "similar size, or use --data-mode broadcast", e.getMessage());
    }

    @Test
    void checkpointDirectoryOfAnotherRunOrNothingToResume() throws IOException {
        SparkTrainingOptions resume = SparkTrainingOptions.workers(2).withCheckpoints(dir.toString(), 2).withResume(true);
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> fit(SparkTrainerTest.data(), resume));
        assertEquals("--resume: no valid checkpoint in " + dir, none.getMessage());

        LlamaTrainable m = LlamaTrainable.create("tiny", "fp32", CFG.seed());
        new Trainer(m, SparkTrainerTest.DATA, CFG.withSteps(1), new CheckpointDirectory(dir, 2)).run();
        IllegalArgumentException full = assertThrows(IllegalArgumentException.class,
                () -> fit(SparkTrainerTest.data(), resume.withResume(false)));
        assertEquals(dir + " already holds checkpoints: pass --resume to continue, or another --checkpoint-dir", full.getMessage());
    }

    @Test
    void aFileADirectoryAndAGlobAreReadThroughSpark() throws IOException {
        byte[] a = SparkTrainerTest.CORPUS.sample(3000, 1);
        byte[] b = SparkTrainerTest.CORPUS.sample(2000, 2);
        Path sub = Files.createDirectories(dir.resolve("corpus"));
        Files.write(sub.resolve("b.txt"), b);
        Files.write(sub.resolve("a.txt"), a);
        Files.write(dir.resolve("other.dat"), new byte[] {1, 2, 3});
        byte[] ab = new byte[a.length + b.length];
        System.arraycopy(a, 0, ab, 0, a.length);
        System.arraycopy(b, 0, ab, a.length, b.length);
        assertArrayEquals(a, SparkTrainingData.read(sc, sub.resolve("a.txt").toString()).bytes());
        assertArrayEquals(ab, SparkTrainingData.read(sc, sub.toString()).bytes(), "files in path order");
        assertArrayEquals(ab, SparkTrainingData.read(sc, dir + "/corpus/*.txt").bytes());
        assertEquals(sub.toString(), SparkTrainingData.read(sc, sub.toString()).name());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparkTrainingData.read(sc, dir + "/missing*.txt"));
        assertTrue(e.getMessage().startsWith("cannot read data " + dir + "/missing*.txt"), e.getMessage());
    }

    @Test
    void shardModeTrainsEachWorkerOnItsOwnFiles() throws IOException {
        Files.write(dir.resolve("s0.txt"), SparkTrainerTest.CORPUS.sample(20_000, 1));
        Files.write(dir.resolve("s1.txt"), SparkTrainerTest.CORPUS.sample(20_000, 2));
        SparkTrainingData data = SparkTrainingData.readShards(sc, dir.toString(), 2);
        SparkTrainingResult r = fit(data, SparkTrainingOptions.workers(2).withThreads(1).withCheckpoints(dir.resolve("ck").toString(), 1));
        assertEquals(TrainingResult.Status.COMPLETED, r.training().status(), r.training().message());
        assertEquals(4, r.training().records().size());
        Checkpoint c = Checkpoint.read(r.training().lastCheckpoint());
        assertEquals(dir + ", shard 0 of 2", c.extra().get("data"));
    }
}
