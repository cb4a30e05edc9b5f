package dev.fp4.nn.plainjvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.core.simd.Simd;
import dev.fp4.nn.train.Trainer;
import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library as a plain dependency: a JVM started without {@code --add-modules
 * jdk.incubator.vector}, on the class path and on the module path, loads it, logs one warning that
 * names the flag, loads no Vector API class, and trains every recipe to the same bits as this JVM's
 * vector kernels.
 */
class PlainJvmTrainingTest {

    private static List<String> vectorLines;

    @BeforeAll
    static void runWithVectors() {
        assertTrue(Simd.ENABLED, "this test compares against the vector kernels: run it with --add-modules "
                + Simd.MODULE + " (the build's surefire argLine does)");
        vectorLines = PlainJvmTraining.run();
    }

    @Test
    void classPathWithoutTheModuleTrainsToTheSameBits(@TempDir Path dir) throws Exception {
        String cp = String.join(File.pathSeparator, location(PlainJvmTraining.class), location(Simd.class),
                location(Trainer.class), location(org.slf4j.LoggerFactory.class), location(com.knuddels.jtokkit.Encodings.class),
                location(com.google.gson.Gson.class));
        Child child = launch(dir, List.of("-cp", cp, PlainJvmTraining.class.getName()));
        assertPlain(child);
    }

    @Test
    void modulePathWithoutTheModuleTrainsToTheSameBits(@TempDir Path dir) throws Exception {
        String mp = String.join(File.pathSeparator, location(Simd.class), location(Trainer.class),
                location(org.slf4j.LoggerFactory.class), location(com.knuddels.jtokkit.Encodings.class),
                location(com.google.gson.Gson.class));
        Child child = launch(dir, List.of("--module-path", mp, "--add-modules", "dev.fp4.nn",
                "-cp", location(PlainJvmTraining.class), PlainJvmTraining.class.getName()));
        assertPlain(child);
    }

    private static void assertPlain(Child child) {
        assertEquals(0, child.exit, () -> "child JVM failed:\n" + child.err.lines()
                .filter(l -> !l.contains("[class,load]")).collect(java.util.stream.Collectors.joining("\n")));
        assertEquals("kernels: scalar (" + Simd.MODULE + " not enabled)", child.out.get(0), child.err);
        assertEquals(vectorLines, child.out.subList(1, child.out.size()),
                "losses and gradient norms without the Vector API differ from the vector kernels'");
        long warnings = child.err.lines().filter(l -> l.contains("--add-modules " + Simd.MODULE)).count();
        assertEquals(1, warnings, () -> "expected one warning naming the flag:\n" + child.err);
        assertTrue(child.err.contains(" dev.fp4.core.simd.Simd "), "the class-loading log is missing");
        assertTrue(child.err.lines().noneMatch(l -> l.contains("jdk.incubator.vector.") || l.contains("Panama")),
                () -> "a Vector API or Panama class was loaded:\n" + child.err);
    }

    private record Child(int exit, List<String> out, String err) {
    }

    /** Runs this JDK's java with the given arguments, logging class loading to stderr. */
    private static Child launch(Path dir, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xlog:class+load=info:stderr");
        cmd.addAll(args);
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("child JVM did not finish in 5 minutes: " + cmd);
        }
        return new Child(p.exitValue(), Files.readAllLines(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    private static String location(Class<?> c) throws URISyntaxException {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }
}
