package dev.fp4.spark;

import dev.fp4.nn.data.TextDataset;
import dev.fp4.nn.data.Tokenizer;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.input.PortableDataStream;
import scala.Tuple2;

/**
 * The text a {@link SparkTrainer} run trains on, tokenized on every worker by a named
 * {@link Tokenizer} ({@code byte} unless {@link #withTokenizer} says otherwise; the model's
 * vocabulary must hold the tokenizer's), in one of two modes.
 * <ul>
 * <li><b>Broadcast</b> ({@link #of}, {@link #read}): one corpus, held by the driver and broadcast
 * to every worker; every worker samples from the one global stream, micro-batch w of a step being
 * the windows a single process would draw for it, so a run equals single-process accumulation bit
 * for bit. Up to 2 GiB.</li>
 * <li><b>Shards</b> ({@link #shards}, {@link #readShards}): partition w of an RDD is worker w's own
 * corpus (its records concatenated in order), split into training and validation parts by the
 * usual rule (the last tenth validates), for corpora larger than one machine's memory. The RDD
 * must have exactly one partition per worker.</li>
 * </ul>
 */
public final class SparkTrainingData {
    private final String name;
    private final byte[] bytes;
    private final JavaRDD<byte[]> shards;
    private final String tokenizer;

    private SparkTrainingData(String name, byte[] bytes, JavaRDD<byte[]> shards, String tokenizer) {
        this.name = Objects.requireNonNull(name, "name");
        this.bytes = bytes;
        this.shards = shards;
        this.tokenizer = tokenizer;
    }

    /**
     * The same text, tokenized by {@code tokenizerName} ({@link Tokenizer#NAMES}: {@code byte} or
     * {@code gpt2}), which checkpoints record.
     *
     * @throws IllegalArgumentException for an unknown tokenizer, naming the valid ones
     */
    public SparkTrainingData withTokenizer(String tokenizerName) {
        Tokenizer.byName(tokenizerName);
        return new SparkTrainingData(name, bytes, shards, tokenizerName);
    }

    /** The tokenizer's name. */
    public String tokenizer() {
        return tokenizer;
    }

    /** A worker's dataset: {@code text} tokenized by the named tokenizer (empty text is refused, naming it). */
    static TextDataset dataset(String name, byte[] text, String tokenizerName) {
        Tokenizer t = Tokenizer.byName(tokenizerName);
        return TextDataset.fromTokens(name, t.encode(text), t);
    }

    /**
     * A corpus already in the driver's memory, to broadcast.
     *
     * @param name the dataset name recorded in checkpoints (use the file name {@code fp4 train}
     *             would record, for checkpoints both can resume)
     * @throws IllegalArgumentException when bytes is empty
     */
    public static SparkTrainingData of(String name, byte[] bytes) {
        if (bytes.length == 0) {
            throw new IllegalArgumentException("dataset " + name + " is empty");
        }
        return new SparkTrainingData(name, bytes, null, "byte");
    }

    /**
     * Reads a file, a directory or a glob through Spark (any file system Spark reads) and
     * broadcasts it: the files' bytes concatenated in path order. The name is {@code path} as
     * given.
     *
     * @throws IllegalArgumentException when nothing matches, or the files are empty or over 2 GiB
     */
    public static SparkTrainingData read(JavaSparkContext sc, String path) {
        List<Tuple2<String, PortableDataStream>> files;
        try {
            files = new ArrayList<>(sc.binaryFiles(path).collect());
        } catch (Exception e) {                   // Hadoop's IOExceptions arrive undeclared through Scala
            throw new IllegalArgumentException("cannot read data " + path + ": " + e.getMessage(), e);
        }
        files.sort(Comparator.comparing(Tuple2::_1));
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (Tuple2<String, PortableDataStream> f : files) {
            byte[] b = f._2().toArray();
            if ((long) all.size() + b.length > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("data " + path + " holds more than 2 GiB: use --data-mode shard");
            }
            all.writeBytes(b);
        }
        if (all.size() == 0) {
            throw new IllegalArgumentException("data " + path + " is empty (" + files.size() + " files)");
        }
        return of(path, all.toByteArray());
    }

    /**
     * Partition w of {@code shards} is worker w's corpus.
     *
     * @param name the dataset name (each worker records "NAME, shard w of n")
     */
    public static SparkTrainingData shards(String name, JavaRDD<byte[]> shards) {
        return new SparkTrainingData(name, null, Objects.requireNonNull(shards, "shards"), "byte");
    }

    /**
     * Reads a directory or glob as shards: its files in path order, cut into {@code workers}
     * contiguous groups of whole files (group w = files ⌊k·w/workers⌋ … ⌊k·(w+1)/workers⌋ − 1 of k),
     * group w read through Spark as partition w. Fewer files than workers leave workers without a
     * shard, which the run refuses before it starts.
     *
     * @throws IllegalArgumentException when nothing matches
     */
    public static SparkTrainingData readShards(JavaSparkContext sc, String path, int workers) {
        List<String> files = listFiles(sc, path);
        List<JavaRDD<byte[]>> parts = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            List<String> group = files.subList((int) ((long) files.size() * w / workers), (int) ((long) files.size() * (w + 1) / workers));
            if (!group.isEmpty()) {
                parts.add(sc.binaryFiles(String.join(",", group)).values().map(PortableDataStream::toArray).coalesce(1));
            }
        }
        JavaRDD<byte[]> rdd = parts.get(0);
        for (int w = 1; w < parts.size(); w++) {
            rdd = rdd.union(parts.get(w));
        }
        return shards(path, rdd);
    }

    /** The files a path, directory or glob names, in path order (hidden files, "_" and ".", left out as Spark does). */
    private static List<String> listFiles(JavaSparkContext sc, String path) {
        try {
            org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(path);
            org.apache.hadoop.fs.FileSystem fs = p.getFileSystem(sc.hadoopConfiguration());
            org.apache.hadoop.fs.FileStatus[] matched = fs.globStatus(p);
            List<String> out = new ArrayList<>();
            if (matched != null) {
                for (org.apache.hadoop.fs.FileStatus m : matched) {
                    for (org.apache.hadoop.fs.FileStatus f : m.isDirectory() ? fs.listStatus(m.getPath()) : new org.apache.hadoop.fs.FileStatus[] {m}) {
                        String name = f.getPath().getName();
                        if (f.isFile() && !name.startsWith("_") && !name.startsWith(".")) {
                            out.add(f.getPath().toString());
                        }
                    }
                }
            }
            if (out.isEmpty()) {
                throw new IllegalArgumentException("cannot read data " + path + ": no files match");
            }
            out.sort(null);
            return out;
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("cannot read data " + path + ": " + e.getMessage(), e);
        }
    }

    /** The name recorded in checkpoints. */
    public String name() {
        return name;
    }

    /** True in shard mode. */
    public boolean sharded() {
        return shards != null;
    }

    /** The broadcast corpus (broadcast mode), else null. Not a copy. */
    byte[] bytes() {
        return bytes;
    }

    /** The shards (shard mode), else null. */
    JavaRDD<byte[]> shardRdd() {
        return shards;
    }

    @Override
    public String toString() {
        return (sharded() ? name + " (" + shards.getNumPartitions() + " shards" : name + " (" + bytes.length + " bytes")
                + (tokenizer.equals("byte") ? ")" : ", tokenizer " + tokenizer + ")");
    }
}
