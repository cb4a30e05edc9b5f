package dev.fp4.nn.checkpoint;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A directory of checkpoints named {@code ckpt-<step, 10 digits>.safetensors}, keeping the newest
 * {@code keep}. Old checkpoints are deleted only after a new one has been written completely, so
 * a failed write never reduces the set of loadable checkpoints. {@link #latestValid()} returns the
 * newest checkpoint that loads, skipping (and logging) corrupt or truncated ones.
 */
public final class CheckpointDirectory {
    private static final Logger LOG = LoggerFactory.getLogger(CheckpointDirectory.class);
    private static final Pattern NAME = Pattern.compile("ckpt-(\\d{10})\\.safetensors");

    /** A checkpoint and the file it came from. */
    public record Loaded(Path path, Checkpoint checkpoint) {
    }

    private final Path dir;
    private final int keep;
    private final WriteHook hook;

    /**
     * @param dir  the directory (created on the first save when missing)
     * @param keep how many checkpoints to keep, at least 1
     */
    public CheckpointDirectory(Path dir, int keep) {
        this(dir, keep, WriteHook.NONE);
    }

    /**
     * A directory whose {@link #save(Checkpoint)} calls {@code hook} before each write stage (for
     * fault-injection tests of code that saves through the directory, such as the trainer).
     */
    public CheckpointDirectory(Path dir, int keep, WriteHook hook) {
        if (keep < 1) {
            throw new IllegalArgumentException("keep must be at least 1, got " + keep);
        }
        this.dir = java.util.Objects.requireNonNull(dir, "dir");
        this.keep = keep;
        this.hook = java.util.Objects.requireNonNull(hook, "hook");
    }

    /** The directory. */
    public Path directory() {
        return dir;
    }

    /** The file name used for a step. */
    public Path pathFor(long step) {
        return dir.resolve(String.format("ckpt-%010d.safetensors", step));
    }

    /**
     * Writes {@code c} atomically (calling this directory's hook before each stage) and then
     * removes checkpoints beyond the newest {@code keep}.
     */
    public Path save(Checkpoint c) throws IOException {
        return save(c, hook);
    }

    /** As {@link #save(Checkpoint)}, calling {@code hook} before each write stage. */
    public Path save(Checkpoint c, WriteHook hook) throws IOException {
        Files.createDirectories(dir);
        Path p = pathFor(c.step());
        c.write(p, hook);
        List<Path> all = list();
        for (int i = 0; i < all.size() - keep; i++) {
            Files.deleteIfExists(all.get(i));
        }
        return p;
    }

    /** Checkpoint files present, oldest (lowest step) first; temporary files are ignored. */
    public List<Path> list() throws IOException {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                Matcher m = NAME.matcher(p.getFileName().toString());
                if (m.matches() && Files.isRegularFile(p)) {
                    out.add(p);
                }
            }
        }
        out.sort(null);                                  // zero-padded step: name order = step order
        return out;
    }

    /** The newest checkpoint that loads; corrupt ones are skipped with a warning. Empty when none. */
    public Optional<Loaded> latestValid() throws IOException {
        List<Path> all = list();
        for (int i = all.size() - 1; i >= 0; i--) {
            Path p = all.get(i);
            try {
                return Optional.of(new Loaded(p, Checkpoint.read(p)));
            } catch (CheckpointFormatException e) {
                LOG.warn("skipping unreadable checkpoint: {}", e.getMessage());
            }
        }
        return Optional.empty();
    }
}
