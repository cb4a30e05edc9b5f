package dev.fp4.bench.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.Objects;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code fp4} command line: {@code train}, {@code compare}, {@code generate}, {@code eval}, {@code export}, {@code plot},
 * {@code jmh}, {@code bench-step}, {@code spark-train}. Exit codes: 0 success,
 * 1 a run failed (I/O error, training stopped by the guard), 2 bad usage (unknown option, invalid
 * value, missing or unusable data file) with a one-line message on stderr.
 */
@Command(name = "fp4", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = "Train LLaMA-style models in FP4 and compare precision recipes.",
        commandListHeading = "%nCommands:%n")
public final class Cli implements Runnable {
    /** Exit code of a bad command line. */
    public static final int USAGE = 2;
    /** Exit code of a failed run. */
    public static final int FAILED = 1;

    private static volatile boolean shutdownInProgress;

    /** The slf4j-simple property that sets the log level (read once, when the first logger is made). */
    static final String LOG_LEVEL_PROPERTY = "org.slf4j.simpleLogger.defaultLogLevel";

    private static final List<String> LOG_LEVELS = List.of("error", "warn", "info", "debug");

    @Option(names = "--log-level", paramLabel = "LEVEL", scope = ScopeType.INHERIT,
            description = "error, warn, info or debug: what the library logs on stderr. info and debug show the training "
                    + "log lines (every 50 steps, checkpoints) instead of the progress bar. Default: ${DEFAULT-VALUE}.")
    String logLevel = "warn";

    @Option(names = {"-q", "--quiet"}, scope = ScopeType.INHERIT,
            description = "No progress bar and no notes on stderr: only the results on stdout, warnings and errors.")
    boolean quiet;

    @Spec
    CommandSpec spec;

    final ModelFactory models;
    final PrintStream out;
    final PrintStream err;

    Cli(ModelFactory models, PrintStream out, PrintStream err) {
        this.models = Objects.requireNonNull(models, "models");
        this.out = out;
        this.err = err;
    }

    /** Version from the jar manifest when packaged. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Cli.class.getPackage().getImplementationVersion();
            return new String[] {"fp4 " + (v == null ? "(development build)" : v)};
        }
    }

    /** A bad input found after parsing (data file, preset, recipe): reported in one line, exit 2. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Whether a command shows its progress bar: not with --quiet, and not when the log lines it
     * would repeat are shown (--log-level info or debug).
     */
    boolean progressBar() {
        return !quiet && (logLevel.equals("warn") || logLevel.equals("error"));
    }

    /** Where notes for the user go (stderr), or nowhere with --quiet. Results go to {@link #out}. */
    PrintStream notes() {
        return quiet ? new PrintStream(java.io.OutputStream.nullOutputStream()) : err;
    }

    /** Checks --log-level and hands it to the logger unless the JVM was given the level itself. */
    private void configureLogging(CommandLine cl) {
        if (!LOG_LEVELS.contains(logLevel)) {
            throw new CommandLine.ParameterException(cl, "--log-level must be one of " + String.join(", ", LOG_LEVELS) + ", got " + logLevel);
        }
        if (System.getProperty(LOG_LEVEL_PROPERTY) == null) {
            System.setProperty(LOG_LEVEL_PROPERTY, logLevel);
        }
    }

    /** True once a Ctrl-C (or other shutdown) hook started: callers must not call System.exit then. */
    public static boolean shutdownInProgress() {
        return shutdownInProgress;
    }

    static void markShutdown() {
        shutdownInProgress = true;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: train, compare, generate, eval, export, plot, jmh, bench-step or spark-train");
    }

    /** Parses and runs; returns the exit code. */
    public static int run(String[] args, ModelFactory models, PrintStream out, PrintStream err) {
        Cli root = new Cli(models, out, err);
        CommandLine cl = commandLine(root);
        cl.setExecutionStrategy(parsed -> {
            List<CommandLine> chain = parsed.asCommandLineList();
            root.configureLogging(chain.get(chain.size() - 1));
            return new CommandLine.RunLast().execute(parsed);
        });
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        cl.setParameterExceptionHandler((ex, a) -> {
            String cmd = ex.getCommandLine().getCommandSpec().qualifiedName();
            err.println(cmd + ": " + oneLine(ex.getMessage()) + " (see '" + cmd + " --help')");
            return USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            String cmd = c.getCommandSpec().qualifiedName();
            if (ex instanceof UsageException || ex instanceof IllegalArgumentException) {
                err.println(cmd + ": " + oneLine(ex.getMessage()));
                return USAGE;
            }
            if (ex instanceof NoSuchFileException nf) {
                err.println(cmd + ": file not found: " + nf.getFile());
                return USAGE;
            }
            err.println(cmd + ": error: " + oneLine(String.valueOf(ex.getMessage())));
            if (Boolean.getBoolean("fp4.debug")) {
                ex.printStackTrace(err);
            }
            return FAILED;
        });
        return cl.execute(args);
    }

    /** The command tree: {@code root} and every subcommand. */
    static CommandLine commandLine(Cli root) {
        CommandLine cl = new CommandLine(root);
        cl.addSubcommand(new TrainCommand(root));
        cl.addSubcommand(new CompareCommand(root));
        cl.addSubcommand(new JmhCommand());
        cl.addSubcommand(new BenchStepCommand(root));
        cl.addSubcommand(new ExportCommand(root));
        cl.addSubcommand(new GenerateCommand(root));
        cl.addSubcommand(new EvalCommand(root));
        cl.addSubcommand(new PlotCommand(root));
        cl.addSubcommand(new SparkTrainCommand(root));
        return cl;
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ").trim();
    }
}
