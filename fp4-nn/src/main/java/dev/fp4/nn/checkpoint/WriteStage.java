package dev.fp4.nn.checkpoint;

/**
 * The stages of an atomic safetensors write, in order; a {@link WriteHook} is called before each.
 * A failure (or a crash) at any stage leaves the previous file at the target path intact, since
 * the target is only replaced by the final rename.
 */
public enum WriteStage {
    /** Creating the temporary file beside the target. */
    CREATE_TEMP,
    /** Writing the 8-byte length and the JSON header. */
    WRITE_HEADER,
    /** Writing one tensor's bytes (called once per tensor, so failures can hit mid-data). */
    WRITE_TENSOR,
    /** Forcing the temporary file's content to the device. */
    FSYNC_FILE,
    /** Renaming the temporary file over the target (atomic move). */
    RENAME,
    /** Forcing the directory entry to the device. */
    FSYNC_DIRECTORY
}
