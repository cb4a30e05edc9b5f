package dev.fp4.nn;

import dev.fp4.core.gemm.Gemm;
import java.util.function.IntConsumer;

/**
 * The parallel loops of the layers (attention over (batch, head) pairs, element-wise kernels over
 * row or column ranges) on the library's shared worker threads ({@link Gemm#parallelFor}).
 *
 * <p><b>Determinism.</b> Callers split work only into items whose results do not overlap (rows,
 * column ranges, heads); every item is computed by one thread in a fixed order, and no reduction
 * is ever split across items whose partial results would be combined in a thread-dependent order.
 * Results are therefore the same bit for bit for every thread count.
 *
 * <p><b>Threads.</b> The layers share the GeMM engine's threads: the one setting is
 * {@link Gemm#setThreads} (initially the system property {@value Gemm#PROPERTY}, default all
 * available processors).
 */
final class Parallel {
    private Parallel() {
    }

    /**
     * Runs {@code body.accept(i)} for every i in [0, count) on the calling thread and the workers
     * ({@link Gemm#parallelFor}: the caller and up to threads − 1 workers each take the next item
     * from a shared counter; the call allocates nothing, and the caller does not wait for a parked
     * worker to wake); inline (in increasing i) with one thread, one item, or from inside parallel
     * work. The items must write disjoint data.
     */
    static void forEach(int count, IntConsumer body) {
        Gemm.parallelFor(count, body);
    }

    /** {@link Gemm#splitPoint}: where piece {@code piece} of {@code units} split into {@code pieces} starts. */
    static int splitPoint(int units, int piece, int pieces) {
        return Gemm.splitPoint(units, piece, pieces);
    }
}
