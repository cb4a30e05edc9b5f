package dev.fp4.nn.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A safetensors file or checkpoint that cannot be loaded because its content is wrong: truncated,
 * bad header length, header beyond the file, malformed JSON, unknown dtype, offsets out of range,
 * overlapping or leaving gaps, a byte count that does not match dtype × shape, a checksum
 * mismatch, or missing checkpoint entries. The message starts with the file and names the problem.
 */
public final class CheckpointFormatException extends IOException {
    private static final long serialVersionUID = 1L;
    private final transient Path file;

    /** @param file the file; @param problem what is wrong with it */
    public CheckpointFormatException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    /** With a cause. */
    public CheckpointFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file that failed to load. */
    public Path file() {
        return file;
    }
}
