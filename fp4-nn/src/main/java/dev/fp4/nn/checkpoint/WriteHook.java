package dev.fp4.nn.checkpoint;

import java.io.IOException;

/**
 * Called before every {@link WriteStage} of a safetensors write; throwing aborts the write there.
 * For fault-injection tests and progress reporting; {@link #NONE} in normal use.
 */
@FunctionalInterface
public interface WriteHook {
    /** Does nothing. */
    WriteHook NONE = stage -> {
    };

    /** Called before {@code stage}; an exception aborts the write as a real failure there would. */
    void before(WriteStage stage) throws IOException;
}
