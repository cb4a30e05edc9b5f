package dev.fp4.bench.cli;

import dev.fp4.nn.checkpoint.Checkpoint;
import dev.fp4.nn.checkpoint.CheckpointDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Finding the checkpoint a command is pointed at: a file, or a directory's newest valid one. */
final class Checkpoints {
    private Checkpoints() {
    }

    /** The checkpoint at {@code path} (a checkpoint file or index), or the newest valid one in a directory. */
    static Checkpoint load(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString());
        }
        if (Files.isDirectory(path)) {
            return new CheckpointDirectory(path, 1).latestValid()
                    .orElseThrow(() -> new Cli.UsageException("no valid checkpoint in " + path, null)).checkpoint();
        }
        return Checkpoint.read(path);
    }
}
