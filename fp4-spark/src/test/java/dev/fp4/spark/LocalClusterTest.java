package dev.fp4.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.train.TrainingResult;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

/**
 * The all-reduce across real process boundaries: a {@code local-cluster[2,1,1024]} master starts a
 * standalone master, two workers and one executor JVM per worker, and the two replicas, one per
 * executor, must still give the single process's losses bit for bit.
 */
class LocalClusterTest {
    @Test
    void twoExecutorJvmsEqualSingleProcessAccumulation() throws IOException {
        List<String> classPath = classPath();
        Path sparkHome = Path.of(System.getenv("SPARK_HOME"));   // set by the build (see the pom)
        linkJars(sparkHome.resolve("assembly/target/scala-2.13/jars"), classPath);
        SparkConf conf = SparkTrainerTest.conf("local-cluster[2,1,1024]")
                .set("spark.executor.memory", "1024m")
                .set("spark.executor.cores", "1")
                .set("spark.executor.extraClassPath", String.join(File.pathSeparator, classPath))
                .set("spark.executor.extraJavaOptions", "--add-modules=jdk.incubator.vector");
        try (JavaSparkContext sc = new JavaSparkContext(conf)) {
            SparkTrainingOptions opts = SparkTrainingOptions.workers(2).withThreads(1);
            SparkTrainingResult r = SparkTrainer.fit(sc, SparkTrainerTest.data(), SparkTrainerTest.MODEL, SparkTrainerTest.RECIPE,
                    SparkTrainerTest.CFG, opts, new SparkTrainingListener() {
                    });
            assertEquals(TrainingResult.Status.COMPLETED, r.training().status(), r.training().message());
            TrainingResult reference = SparkTrainerTest.reference();
            assertArrayEquals(SparkTrainerTest.losses(reference), SparkTrainerTest.losses(r.training()));
            assertArrayEquals(SparkTrainerTest.valLosses(reference), SparkTrainerTest.valLosses(r.training()));
            assertTrue(r.bytesSent() > 0);
            // two executor JVMs besides this one: the replicas ran in other processes
            assertEquals(2, sc.sc().getExecutorIds().size(), sc.sc().getExecutorIds().toString());
        }
    }

    /** The test class path, entry by entry (surefire's booter jar hides it from java.class.path). */
    static List<String> classPath() {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> out = new ArrayList<>();
        for (String e : cp.split(File.pathSeparator)) {
            if (!e.isBlank()) {
                out.add(Path.of(e).toAbsolutePath().toString());
            }
        }
        return out;
    }

    private static void linkJars(Path dir, List<String> classPath) throws IOException {
        Files.createDirectories(dir);
        for (String e : classPath) {
            Path p = Path.of(e);
            if (e.endsWith(".jar")) {
                Path link = dir.resolve(p.getFileName());
                Files.deleteIfExists(link);
                Files.createSymbolicLink(link, p);
            }
        }
    }
}
