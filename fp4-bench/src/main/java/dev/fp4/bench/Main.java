package dev.fp4.bench;

import dev.fp4.bench.cli.Cli;
import dev.fp4.bench.cli.LlamaModels;

/** Entry point of {@code fp4.jar}: the {@code fp4} command line ({@link Cli}). */
public final class Main {
    private Main() {
    }

    /** Runs the command line and exits with its code (0 ok, 1 failed run, 2 bad usage). */
    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        int code = Cli.run(args, new LlamaModels(), System.out, System.err);
        // During a Ctrl-C shutdown the hooks are running: System.exit would block forever, and the
        // JVM exits by itself once the checkpoint hook returns.
        if (!Cli.shutdownInProgress()) {
            System.exit(code);
        }
    }
}
