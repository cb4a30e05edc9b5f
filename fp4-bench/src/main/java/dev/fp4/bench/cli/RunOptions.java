package dev.fp4.bench.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by {@code fp4 train} and {@code fp4 compare}. */
public final class RunOptions {
    Path data;
    /** --data as given (spark-train passes it to Spark unchanged: a URI, directory or glob). */
    String dataArgument;

    @Option(names = "--data", paramLabel = "FILE",
            description = "UTF-8 text file to train on (tokenized by --tokenizer; last 10%% of the tokens held out). Default: the built-in Markov corpus.")
    void data(String value) {
        dataArgument = value;
        data = Path.of(value);
    }

    @Option(names = "--tokenizer", paramLabel = "NAME", description = "byte (UTF-8 bytes, vocabulary 256) or gpt2 (GPT-2's BPE, vocabulary 50257; needs --data). Default: ${DEFAULT-VALUE}.")
    String tokenizer = "byte";

    @Option(names = "--preset", paramLabel = "NAME", description = "Model size preset: tiny, small or medium. Default: ${DEFAULT-VALUE}.")
    String preset = "tiny";

    @Option(names = "--config", paramLabel = "FILE", description = "Model shape from a Hugging Face config.json (LlamaForCausalLM) instead of --preset.")
    Path config;

    @Option(names = "--dim", paramLabel = "N", description = "Model width (overrides the preset).")
    Integer dim;

    @Option(names = "--layers", paramLabel = "N", description = "Transformer blocks (overrides the preset).")
    Integer layers;

    @Option(names = "--heads", paramLabel = "N", description = "Attention heads (overrides the preset).")
    Integer heads;

    @Option(names = "--kv-heads", paramLabel = "N", description = "Key/value heads, dividing --heads: grouped-query attention (overrides the preset; default: as many as the heads).")
    Integer kvHeads;

    @Option(names = "--ffn", paramLabel = "N", description = "Feed-forward hidden width (overrides the preset).")
    Integer ffn;

    @Option(names = "--steps", paramLabel = "N", description = "Optimizer steps. Default: ${DEFAULT-VALUE}.")
    int steps = 1000;

    @Option(names = "--batch", paramLabel = "N", description = "Sequences per step. Default: ${DEFAULT-VALUE}.")
    int batch = 8;

    @Option(names = "--late-bf16", paramLabel = "F",
            description = "Run the last fraction F of the steps in bf16, for any recipe (NVIDIA's late switch; the recipe is then "
                    + "named RECIPE+late-bf16=F in checkpoints and reports).")
    Double lateBf16;

    @Option(names = "--seq", paramLabel = "N", description = "Tokens per sequence, and the model's context length (overrides the preset's).")
    Integer seq;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the model initialisation and the data order. Default: ${DEFAULT-VALUE}.")
    long seed = 1234;

    @Option(names = "--threads", paramLabel = "N", description = "Threads of the pool shared by the GeMMs and the layers (results do not depend on it). Default: all processors.")
    Integer threads;

    @Option(names = "--lr", paramLabel = "X", description = "Peak learning rate (warm-up 5%%, cosine to 10%%). Default: ${DEFAULT-VALUE}.")
    double lr = 3e-3;

    @Option(names = "--eval-every", paramLabel = "N", description = "Evaluate on the held-out split every N steps. Default: ${DEFAULT-VALUE}.")
    int evalEvery = 50;

    @Option(names = "--eval-batches", paramLabel = "N", description = "Validation batches per evaluation. Default: ${DEFAULT-VALUE}.")
    int evalBatches = 8;

    @Option(names = "--corpus-bytes", paramLabel = "N", description = "Size of the built-in corpus sample. Default: ${DEFAULT-VALUE}.")
    int corpusBytes = 1 << 20;
}
