package dev.fp4.nn;

import dev.fp4.core.gemm.Gemm;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.IntConsumer;

/**
 * The parallel loops of the layers (attention over (batch, head) pairs, element-wise kernels over
 * row or column ranges) on one shared {@link ForkJoinPool}.
 *
 * <p><b>Determinism.</b> Callers split work only into items whose results do not overlap (rows,
 * column ranges, heads); every item is computed by one thread in a fixed order, and no reduction
 * is ever split across items whose partial results would be combined in a thread-dependent order.
 * Results are therefore the same bit for bit for every thread count.
 *
 * <p><b>Pool.</b> The layers share the GeMM engine's pool ({@link Gemm#pool()}); its initial size
 * is read from the system property {@value #PROPERTY} (default: all available processors).
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
     * Sets the number of threads of later loops and GeMMs (one pool serves both). Results do not
     * depend on this setting.
     *
     * @throws IllegalArgumentException if {@code n < 1}
     */
    public static void setThreads(int n) {
        Gemm.setThreads(n);
    }

    /**
     * Runs {@code body.accept(i)} for every i in [0, count), in ranges of consecutive items spread
     * over the pool; inline (in increasing i) with one thread, one item, or from inside a pool
     * worker. The items must write disjoint data.
     */
    public static void forEach(int count, IntConsumer body) {
        if (count <= 0) {
            return;
        }
        int t = Gemm.threads();
        if (count == 1 || t == 1 || ForkJoinTask.inForkJoinPool()) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        // A few ranges per thread balance the load on a shared machine; each range is one task.
        int grain = Math.max(1, count / (4 * t));
        RangeTask task = new RangeTask(body, 0, count, grain);
        while (true) {
            ForkJoinPool p = Gemm.pool();
            try {
                p.invoke(task);
                return;
            } catch (RejectedExecutionException e) {
                if (p == Gemm.pool()) {
                    throw e;
                }
                task.reinitialize(); // setThreads replaced the pool meanwhile: run on the new one
            }
        }
    }

    /** Splits [lo, hi) in halves down to {@code grain} items. */
    private static final class RangeTask extends RecursiveAction {
        private static final long serialVersionUID = 1L;
        private final transient IntConsumer body;
        private final int lo;
        private final int hi;
        private final int grain;

        RangeTask(IntConsumer body, int lo, int hi, int grain) {
            this.body = body;
            this.lo = lo;
            this.hi = hi;
            this.grain = grain;
        }

        @Override
        protected void compute() {
            if (hi - lo <= grain) {
                for (int i = lo; i < hi; i++) {
                    body.accept(i);
                }
                return;
            }
            int mid = (lo + hi) >>> 1;
            invokeAll(new RangeTask(body, lo, mid, grain), new RangeTask(body, mid, hi, grain));
        }
    }
}
