package dev.fp4.bench.cli;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.nn.Generator;
import dev.fp4.nn.KvDecoder;
import dev.fp4.nn.train.LlamaTrainable;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fp4 generate}: text from a checkpoint, streamed, with a key/value cache. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Continues a prompt with a trained model (byte tokens), streaming the prompt and the continuation to",
                "stdout; tokens/s and the linear weights' size go to stderr. The same checkpoint, prompt and --seed give",
                "the same text."})
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--checkpoint", paramLabel = "PATH", required = true,
            description = "A checkpoint file, or a directory (its newest valid checkpoint).")
    Path checkpoint;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "Text to continue. Default: a newline.")
    String prompt = "\n";

    @Option(names = "--max-tokens", paramLabel = "N", description = "Tokens to generate. Default: ${DEFAULT-VALUE}.")
    int maxTokens = 200;

    @Option(names = "--temperature", paramLabel = "T", description = "Sampling temperature (0: greedy). Default: ${DEFAULT-VALUE}.")
    double temperature = 0.8;

    @Option(names = "--top-k", paramLabel = "K", description = "Sample from the K most likely tokens (0: all). Default: ${DEFAULT-VALUE}.")
    int topK = 0;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling mass. Default: ${DEFAULT-VALUE}.")
    double topP = 0.95;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the sampling. Default: ${DEFAULT-VALUE}.")
    long seed = 1234;

    @Option(names = "--weights", paramLabel = "W", description = "fp32, or fp4: linear weights packed as NVFP4 (E2M1 codes and "
            + "scales), multiplied through Fp4Gemm. Default: ${DEFAULT-VALUE}.")
    String weights = "fp32";

    private final Cli root;

    GenerateCommand(Cli root) {
        this.root = root;
    }

    @Override
    public Integer call() throws Exception {
        CommandLine cl = spec.commandLine();
        Runs.positive(cl, "--max-tokens", maxTokens);
        if (!weights.matches("fp32|fp4")) {
            throw new CommandLine.ParameterException(cl, "--weights must be fp32 or fp4, got '" + weights + "'");
        }
        Generator.Sampling sampling;
        try {
            sampling = new Generator.Sampling(temperature, topK, topP, seed);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, e.getMessage());
        }
        byte[] bytes = prompt.isEmpty() ? new byte[] {'\n'} : prompt.getBytes(StandardCharsets.UTF_8);
        int[] tokens = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            tokens[i] = bytes[i] & 0xff;
        }
        LlamaTrainable model = LlamaTrainable.restore(Checkpoints.load(checkpoint), null);
        boolean fp4 = weights.equals("fp4");
        Generator g = new Generator(model.model(), fp4 ? KvDecoder.Weights.FP4 : KvDecoder.Weights.FP32, fp4 ? Fp4Scheme.nvfp4() : null);
        PrintStream out = root.out;
        out.write(bytes);
        out.flush();
        int[] generated = g.generate(tokens, maxTokens, sampling, t -> {
            out.write(t);
            out.flush();
        });
        out.println();
        out.flush();
        if (generated.length < maxTokens) {
            root.err.printf(Locale.ROOT, "stopped at the model's context of %d tokens%n", model.model().config().maxSeq());
        }
        root.err.printf(Locale.ROOT, "generated %d tokens at %.1f tokens/s; linear weights %.2f MB (%s)%n", generated.length,
                g.tokensPerSecond(), g.weightBytes() / 1e6, fp4 ? "fp4: NVFP4 codes and scales" : "fp32");
        return 0;
    }
}
