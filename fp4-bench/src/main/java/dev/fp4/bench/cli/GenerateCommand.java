package dev.fp4.bench.cli;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.nn.InferenceModel;
import dev.fp4.nn.generate.Generator;
import dev.fp4.nn.generate.Sampling;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fp4 generate}: text from a trained checkpoint, streamed to stdout. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Continues a prompt with a trained model, streaming the prompt and then each new token to stdout; the "
                + "speed and the weights' memory go to stderr. Uses a KV cache (the prompt is run once, then one position per "
                + "token); the same seed gives the same text. With --weights fp4 the blocks' linear weights are held packed in "
                + "FP4 (E2M1 codes and block scales) and multiplied through the FP4 GeMM."})
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--checkpoint", paramLabel = "PATH", required = true,
            description = "A checkpoint file, or a directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "Text to continue. Default: none (generation starts after a newline, or GPT-2's <|endoftext|>).")
    String prompt = "";

    @Option(names = "--max-tokens", paramLabel = "N", description = "Tokens to generate. Default: ${DEFAULT-VALUE}.")
    int maxTokens = 200;

    @Option(names = "--temperature", paramLabel = "T", description = "Sampling temperature (0: always the most likely token). Default: ${DEFAULT-VALUE}.")
    double temperature = 0.8;

    @Option(names = "--top-k", paramLabel = "K", description = "Draw only among the K most likely tokens (0: no limit). Default: ${DEFAULT-VALUE}.")
    int topK = 0;

    @Option(names = "--top-p", paramLabel = "P", description = "Draw only among the most likely tokens whose probabilities add up to P. Default: ${DEFAULT-VALUE}.")
    double topP = 0.95;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the draws. Default: ${DEFAULT-VALUE}.")
    long seed = 0;

    @Option(names = "--weights", paramLabel = "W", description = "fp32, or fp4 (linear weights packed in FP4). Default: ${DEFAULT-VALUE}.")
    String weights = "fp32";

    @Option(names = "--scheme", paramLabel = "NAME", description = "FP4 scaling of the weights with --weights fp4: per-row, per-tensor, mxfp4, nvfp4 or nvfp4-2d. Default: ${DEFAULT-VALUE}.")
    String scheme = "per-row";

    @Option(names = "--threads", paramLabel = "N", description = "Threads (the text does not depend on it). Default: all processors.")
    Integer threads;

    private final Cli root;

    GenerateCommand(Cli root) {
        this.root = root;
    }

    @Override
    public Integer call() throws java.io.IOException {
        CommandLine cl = spec.commandLine();
        if (maxTokens < 0) {
            throw new CommandLine.ParameterException(cl, "--max-tokens must be >= 0, got " + maxTokens);
        }
        Sampling sampling;
        try {
            sampling = new Sampling(temperature, topK, topP);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, e.getMessage());
        }
        Fp4Scheme s = switch (weights) {
            case "fp32" -> null;
            case "fp4" -> {
                Fp4Scheme x = ExportCommand.SCHEMES.get(scheme);
                if (x == null) {
                    throw new CommandLine.ParameterException(cl, "unknown --scheme \"" + scheme + "\"; valid: "
                            + String.join(", ", ExportCommand.SCHEMES.keySet()));
                }
                yield x;
            }
            default -> throw new CommandLine.ParameterException(cl, "--weights must be fp32 or fp4, got " + weights);
        };
        if (threads != null) {
            Runs.positive(cl, "--threads", threads);
            dev.fp4.core.gemm.Gemm.setThreads(threads);
        }
        TrainedModel tm = TrainedModel.load(checkpoint);
        InferenceModel model = InferenceModel.of(tm.config(), tm.checkpoint().parameters(), s);
        PrintStream err = root.notes();
        err.println("model " + tm.describe() + ": " + Runs.describe(tm.config()));
        err.printf(Locale.ROOT, "weights: linear layers %s in %,d bytes (FP32 would be %,d), embedding, norms and LM head %,d bytes FP32%n",
                s == null ? "FP32" : "FP4 " + scheme, model.linearWeightBytes(),
                s == null ? model.linearWeightBytes() : InferenceModel.of(tm.config(), tm.checkpoint().parameters(), null).linearWeightBytes(),
                model.otherWeightBytes());
        PrintStream out = root.out;
        out.print(prompt);
        out.flush();
        Generator g = new Generator(model, tm.tokenizer());
        Generator.Result r = g.generate(prompt, maxTokens, sampling, seed, (token, bytes) -> {
            out.write(bytes, 0, bytes.length);
            out.flush();
        });
        out.println();
        out.flush();
        err.printf(Locale.ROOT, "%d prompt tokens in %.3f s; %d tokens generated in %.3f s: %.1f tokens/s%n", r.prompt().length,
                r.prefillSeconds(), r.generated().length, r.decodeSeconds(), r.tokensPerSecond());
        return 0;
    }
}
