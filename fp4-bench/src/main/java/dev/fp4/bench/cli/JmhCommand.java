package dev.fp4.bench.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;

/** {@code fp4 jmh ARGS}: runs the JMH benchmarks in this jar, passing every argument to JMH. */
@Command(name = "jmh",
        description = {"Runs the JMH benchmarks packaged in fp4.jar; all arguments go to org.openjdk.jmh.Main. "
                + "Examples: fp4 jmh -l   |   fp4 jmh GemmBench -f 1 -wi 2 -i 3 -w 1s -r 1s   |   fp4 jmh -h (JMH's own options)"})
final class JmhCommand implements Callable<Integer> {
    @Option(names = "--help", usageHelp = true, description = "Show this help and exit.")
    boolean help;

    /** Everything else: JMH's own arguments. */
    @Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        org.openjdk.jmh.Main.main(withDefaults(args).toArray(String[]::new));
        return 0;
    }

    /** The arguments, with {@code -prof gc} added when TrainStepBench is selected and no profiler is named. */
    static List<String> withDefaults(List<String> args) {
        List<String> out = new ArrayList<>(args);
        if (args.stream().anyMatch(a -> a.contains("TrainStepBench")) && !args.contains("-prof")) {
            out.add("-prof");
            out.add("gc");
        }
        return out;
    }
}
