package dev.fp4.spark;

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
 * The text a {@link SparkTrainer} run trains on (byte-level tokens), in one of two modes.
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

    private SparkTrainingData(String name, byte[] bytes, JavaRDD<byte[]> shards) {
        this.name = Objects.requireNonNull(name, "name");
        this.bytes = bytes;
        this.shards = shards;
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
        return new SparkTrainingData(name, bytes, null);
    }

    /**
     * Reads a file, a directory or a glob through Spark (any file system Spark reads) and
     * broadcasts it: the files' bytes concatenated in path order. The name is {@code path} as
     * given.
     *
     * @throws IllegalArgumentException when nothing matches, or the files are empty or over 2 GiB
     */
    public static SparkTrainingData read(JavaSparkContext sc, String path) {
        List<Tuple2<String, PortableDataStream>> files = new ArrayList<>(list(sc, path, 1).collect());
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
        return new SparkTrainingData(name, null, Objects.requireNonNull(shards, "shards"));
    }

    /**
     * Reads a directory or glob as shards: Spark's partitions of its files (at most
     * {@code workers}; whole files, never split), which must come to exactly {@code workers}
     * (checked before training starts).
     */
    public static SparkTrainingData readShards(JavaSparkContext sc, String path, int workers) {
        JavaRDD<byte[]> rdd = list(sc, path, workers).map(f -> f._2().toArray());
        if (rdd.getNumPartitions() > workers) {
            rdd = rdd.coalesce(workers);
        }
        return shards(path, rdd);
    }

    private static org.apache.spark.api.java.JavaPairRDD<String, PortableDataStream> list(JavaSparkContext sc, String path, int partitions) {
        try {
            return sc.binaryFiles(path, partitions);
        } catch (RuntimeException e) {
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
        return sharded() ? name + " (" + shards.getNumPartitions() + " shards)" : name + " (" + bytes.length + " bytes)";
    }
}
