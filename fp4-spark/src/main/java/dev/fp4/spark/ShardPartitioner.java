package dev.fp4.spark;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaRDD;
import scala.Tuple2;

/**
 * Puts shard w's records in partition w, in their order, behind a shuffle: a barrier stage may
 * only start from an RDD whose partitions map one to one onto its tasks (no union or coalesce in
 * the same stage), so the shards are handed to it through one. Keys are (shard « 32) | record.
 */
final class ShardPartitioner extends Partitioner {
    private static final long serialVersionUID = 1L;
    private final int shards;

    ShardPartitioner(int shards) {
        this.shards = shards;
    }

    @Override
    public int numPartitions() {
        return shards;
    }

    @Override
    public int getPartition(Object key) {
        return (int) ((Long) key >>> 32);
    }

    /** {@code rdd}'s partition w as partition w of a shuffled RDD, records in order. */
    static JavaRDD<byte[]> pin(JavaRDD<byte[]> rdd) {
        int n = rdd.getNumPartitions();
        return rdd.mapPartitionsWithIndex((w, it) -> {
            List<Tuple2<Long, byte[]>> out = new ArrayList<>();
            long k = 0;
            while (it.hasNext()) {
                out.add(new Tuple2<>(((long) w << 32) | k++, it.next()));
            }
            return out.iterator();
        }, true).mapToPair(t -> t).repartitionAndSortWithinPartitions(new ShardPartitioner(n)).values();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ShardPartitioner p && p.shards == shards;
    }

    @Override
    public int hashCode() {
        return shards;
    }
}
