package dev.fp4.nn.checkpoint;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A directory of one training run's checkpoints, {@code ckpt-<step, 10 ASCII digits>.safetensors}
 * (or, above {@code maxShardBytes}, the shards {@code ckpt-<step>-0000i-of-0000n.safetensors} and
 * their index {@code ckpt-<step>.safetensors.index.json}), keeping the newest {@code keep}.
 *
 * <ul>
 * <li>Old checkpoints are deleted only after a new one has been written completely, so a failed
 * write never reduces the set of loadable checkpoints, and the checkpoint just written is never
 * one of them.</li>
 * <li>{@link #save} refuses a checkpoint of another run ({@link Checkpoint#runId()}) than the ones
 * already there, naming both runs: two runs never rotate each other's files away.</li>
 * <li>{@link #removeStale()} removes what a crash mid-write leaves: temporary files and shards
 * without an index.</li>
 * <li>{@link #latestValid()} returns the newest checkpoint that loads, skipping (and logging)
 * corrupt or truncated ones.</li>
 * <li>Names are formatted and parsed with ASCII digits whatever the default locale.</li>
 * </ul>
 */
public final class CheckpointDirectory {
    private static final Logger LOG = LoggerFactory.getLogger(CheckpointDirectory.class);
    private static final Pattern NAME = Pattern.compile("ckpt-([0-9]{10})\\.safetensors(\\.index\\.json)?");
    private static final Pattern SHARD = Pattern.compile("ckpt-([0-9]{10})-[0-9]{5}-of-[0-9]{5}\\.safetensors");
    private static final Pattern TEMP = Pattern.compile("\\..*\\" + SafeTensors.TEMP_SUFFIX);
    /** Shard size above which a checkpoint is sharded unless told otherwise: 4 GiB. */
    public static final long DEFAULT_MAX_SHARD_BYTES = 4L << 30;

    /** A checkpoint and the file it came from (the single file or the index). */
    public record Loaded(Path path, Checkpoint checkpoint) {
    }

    private final Path dir;
    private final int keep;
    private final WriteHook hook;
    private final long maxShardBytes;

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
        this(dir, keep, hook, DEFAULT_MAX_SHARD_BYTES);
    }

    /**
     * @param maxShardBytes checkpoints larger than this are written as shards of at most this size
     *                      (a tensor larger than it gets a shard of its own)
     */
    public CheckpointDirectory(Path dir, int keep, WriteHook hook, long maxShardBytes) {
        if (keep < 1) {
            throw new IllegalArgumentException("keep must be at least 1, got " + keep);
        }
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
        }
        this.dir = java.util.Objects.requireNonNull(dir, "dir");
        this.keep = keep;
        this.hook = java.util.Objects.requireNonNull(hook, "hook");
        this.maxShardBytes = maxShardBytes;
    }

    /** The directory. */
    public Path directory() {
        return dir;
    }

    /** The single-file name used for a step (ASCII digits in every locale). */
    public Path pathFor(long step) {
        return dir.resolve(String.format(Locale.ROOT, "ckpt-%010d.safetensors", step));
    }

    /**
     * Writes {@code c} atomically (calling this directory's hook before each stage) and then
     * removes the oldest checkpoints beyond the newest {@code keep}, never the one just written.
     *
     * @return the file written (the single file or the index)
     * @throws IllegalStateException when the directory holds checkpoints of another run (naming
     *                               both runs and the steps); nothing is written then
     */
    public Path save(Checkpoint c) throws IOException {
        return save(c, hook);
    }

    /** As {@link #save(Checkpoint)}, calling {@code hook} before each write stage. */
    public Path save(Checkpoint c, WriteHook hook) throws IOException {
        Files.createDirectories(dir);
        refuseOtherRuns(c);
        Path written = c.write(pathFor(c.step()), hook, maxShardBytes);
        List<Path> others = new ArrayList<>(list());
        others.remove(written);
        for (int i = 0; i < others.size() - (keep - 1); i++) {
            delete(others.get(i));
        }
        return written;
    }

    private void refuseOtherRuns(Checkpoint c) throws IOException {
        String run = c.runId();
        if (run == null) {
            return;
        }
        Map<String, List<Long>> others = new LinkedHashMap<>();
        for (Path p : list()) {
            String other;
            try {
                other = Checkpoint.runIdOf(p);
            } catch (CheckpointFormatException e) {
                continue;                                  // unreadable: latestValid skips it too
            }
            if (other != null && !other.equals(run)) {
                others.computeIfAbsent(other, k -> new ArrayList<>()).add(step(p));
            }
        }
        if (!others.isEmpty()) {
            StringBuilder b = new StringBuilder();
            others.forEach((id, steps) -> b.append(b.isEmpty() ? "" : "; ").append("run ").append(id).append(" (steps ").append(steps)
                    .append(')'));
            throw new IllegalStateException("checkpoint directory " + dir + " holds checkpoints of " + b + ", and this is run " + run
                    + ": give this run another directory, or resume that run");
        }
    }

    /** Checkpoints present (single files and indexes), oldest (lowest step) first; temporary files and shards are not listed. */
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
        out.sort(Comparator.comparingLong(CheckpointDirectory::step).thenComparing(Comparator.naturalOrder()));
        return out;
    }

    private static long step(Path p) {
        Matcher m = NAME.matcher(p.getFileName().toString());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a checkpoint name: " + p);
        }
        return Long.parseLong(m.group(1));
    }

    /** Deletes a checkpoint: the index first (it makes the checkpoint valid), then its shards. */
    private void delete(Path checkpoint) throws IOException {
        Files.deleteIfExists(checkpoint);
        if (checkpoint.getFileName().toString().endsWith(Checkpoint.INDEX_SUFFIX)) {
            String step = String.format(Locale.ROOT, "%010d", step(checkpoint));
            for (Path shard : shards()) {
                Matcher m = SHARD.matcher(shard.getFileName().toString());
                if (m.matches() && m.group(1).equals(step)) {
                    Files.deleteIfExists(shard);
                }
            }
        }
    }

    private List<Path> shards() throws IOException {
        List<Path> out = new ArrayList<>();
        if (Files.isDirectory(dir)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path p : ds) {
                    if (SHARD.matcher(p.getFileName().toString()).matches()) {
                        out.add(p);
                    }
                }
            }
        }
        return out;
    }

    /**
     * Removes what an interrupted write leaves behind: temporary files ({@code .*.tmp}) and shards
     * whose index does not exist. Call it when a run starts, before the first save.
     *
     * @return the files removed
     */
    public List<Path> removeStale() throws IOException {
        List<Path> removed = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return removed;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                if (TEMP.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p)) {
                    removed.add(p);
                }
            }
        }
        for (Path shard : shards()) {
            Matcher m = SHARD.matcher(shard.getFileName().toString());
            if (m.matches() && !Files.exists(dir.resolve("ckpt-" + m.group(1) + ".safetensors" + Checkpoint.INDEX_SUFFIX))) {
                removed.add(shard);
            }
        }
        for (Path p : removed) {
            Files.deleteIfExists(p);
            LOG.info("removed {}, left by an interrupted checkpoint write", p);
        }
        return removed;
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
