package dev.fp4.bench.cli;

import dev.fp4.nn.optim.MomentPrecision;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** Options of one training run with checkpoints, shared by {@code fp4 train} and {@code fp4 spark-train}. */
final class TrainOptions {
    @Option(names = "--recipe", paramLabel = "NAME", description = "Precision recipe. Default: ${DEFAULT-VALUE}.")
    String recipe = "fp4-dge-occ";

    @Option(names = "--moments", paramLabel = "P", description = "Optimizer moment storage (${COMPLETION-CANDIDATES}). Default: ${DEFAULT-VALUE}.")
    MomentPrecision moments = MomentPrecision.FP32;

    @Option(names = "--accum", paramLabel = "N", description = "Micro-batches per optimizer step (per worker for spark-train). Default: ${DEFAULT-VALUE}.")
    int accum = 1;

    @Option(names = "--checkpoint-dir", paramLabel = "DIR", description = "Checkpoint directory. Default: runs/train/RECIPE (spark-train: runs/spark-train/RECIPE).")
    Path checkpointDir;

    @Option(names = "--checkpoint-every", paramLabel = "N", description = "Steps between checkpoints (0: only at the end and on Ctrl-C). Default: ${DEFAULT-VALUE}.")
    int checkpointEvery = 100;

    @Option(names = "--keep", paramLabel = "N", description = "Checkpoints kept. Default: ${DEFAULT-VALUE}.")
    int keep = 3;

    @Option(names = "--resume", description = "Continue from the newest valid checkpoint in --checkpoint-dir.")
    boolean resume;

    @Option(names = "--force-resume", description = "With --resume: continue a checkpoint whose data, recipe, batch, steps or "
            + "schedule differ from this run's (each difference is logged as a warning).")
    boolean forceResume;

    /** Checks the ranges, naming the option. */
    void validate(CommandSpec spec) {
        Runs.positive(spec.commandLine(), "--accum", accum);
        Runs.positive(spec.commandLine(), "--keep", keep);
        if (forceResume && !resume) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--force-resume needs --resume");
        }
        if (checkpointEvery < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--checkpoint-every must be >= 0, got " + checkpointEvery);
        }
    }
}
