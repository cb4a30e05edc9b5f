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
 * <p><b>Threads.</b> The layers share the GeMM engine's threads; their initial number is read from
 * the system property {@value #PROPERTY} (default: all available processors).
 */
public final class Parallel {
    /** System property naming the initial number of threads (a positive integer). */
    public static final String PROPERTY = Gemm.PROPERTY;

    private Parallel() {
    }

    /** Number of threads the loops are spread over (1: everything runs on the caller). */
    public static int threads() {
        return Gemm.threads();
    }

    /**
     * Sets the number of threads of later loops and GeMMs (the same threads serve both). Results do not
     * depend on this setting.
     *
     * @throws IllegalArgumentException if {@code n < 1}
     */
    public static void setThreads(int n) {
        Gemm.setThreads(n);
    }

    /**
     * Runs {@code body.accept(i)} for every i in [0, count) on the calling thread and the workers
     * ({@link Gemm#parallelFor}: the caller and up to threads − 1 workers each take the next item
     * from a shared counter; the call allocates nothing, and the caller does not wait for a parked
     * worker to wake); inline (in increasing i) with one thread, one item, or from inside parallel
     * work. The items must write disjoint data.
     */
    public static void forEach(int count, IntConsumer body) {
        Gemm.parallelFor(count, body);
    }

    /** {@link Gemm#splitPoint}: where piece {@code piece} of {@code units} split into {@code pieces} starts. */
    public static int splitPoint(int units, int piece, int pieces) {
        return Gemm.splitPoint(units, piece, pieces);
    }
}
