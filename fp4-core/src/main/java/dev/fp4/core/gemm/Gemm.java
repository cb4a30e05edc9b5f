package dev.fp4.core.gemm;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * The thread pool shared by the library's GeMMs and other parallel loops.
 *
 * <p>One {@link ForkJoinPool} of {@link #threads()} workers. Its size is read once from the system
 * property {@value #PROPERTY} (default: all available processors) and can be changed at run time
 * with {@link #setThreads(int)}. Parallel work is split over output tiles only, never over a
 * reduction, so every result is the same bit for bit whatever the thread count.
 */
public final class Gemm {

    /** System property naming the initial number of threads (a positive integer). */
    public static final String PROPERTY = "fp4.threads";

    private static final Object LOCK = new Object();
    private static volatile ForkJoinPool pool;
    private static volatile int threads;

    static {
        int n = Runtime.getRuntime().availableProcessors();
        String requested = System.getProperty(PROPERTY);
        if (requested != null && !requested.isBlank()) {
            try {
                n = Integer.parseInt(requested.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(PROPERTY + " must be a positive integer; got '" + requested + "'", e);
            }
            if (n < 1) {
                throw new IllegalArgumentException(PROPERTY + " must be a positive integer; got " + n);
            }
        }
        threads = n;
    }

    private Gemm() {
    }

    /** Number of threads parallel work is spread over (1 means everything runs on the caller). */
    public static int threads() {
        return threads;
    }

    /**
     * Sets the number of threads; later calls use a pool of this size (the previous pool finishes
     * the work it has and then shuts down; a call racing with the switch moves to the new pool).
     * Results do not depend on this setting.
     *
     * @param n number of threads, at least 1
     * @throws IllegalArgumentException if {@code n < 1}
     */
    public static void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("thread count must be at least 1; got " + n);
        }
        synchronized (LOCK) {
            if (n == threads) {
                return;
            }
            ForkJoinPool old = pool;
            pool = null;
            threads = n;
            if (old != null) {
                old.shutdown();
            }
        }
    }

    /** The shared pool, created on first use with {@link #threads()} workers. */
    public static ForkJoinPool pool() {
        ForkJoinPool p = pool;
        if (p == null) {
            synchronized (LOCK) {
                p = pool;
                if (p == null) {
                    p = new ForkJoinPool(threads);
                    pool = p;
                }
            }
        }
        return p;
    }

    /**
     * Runs {@code body.accept(i)} for every i in [0, count), on the calling thread and up to
     * {@link #threads()} − 1 pool workers, each taking the next item from a shared counter; runs
     * inline when there is one thread, one item, or when called from inside a pool worker or from
     * the items of another {@code parallelFor} (nested parallelism only adds overhead on a pool
     * this size). Returns after every item has finished; the first failure is rethrown as it was
     * thrown (others are added to it as suppressed). The items must be independent.
     *
     * @param count number of independent items
     * @param body  the work for one item
     */
    public static void parallelFor(int count, java.util.function.IntConsumer body) {
        if (count <= 0) {
            return;
        }
        if (count == 1 || threads == 1 || nested()) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        // The caller takes part: it hands min(threads, count) − 1 helper tasks to the pool and starts
        // on the items at once, instead of waiting for a parked worker to wake (~90 µs on a VM).
        // Helpers that have not started when the items run out are cancelled, not waited for.
        Items items = new Items(body, count);
        Helper[] helpers = new Helper[Math.min(threads, count) - 1];
        ForkJoinPool p = pool();
        for (int w = 0; w < helpers.length; w++) {
            helpers[w] = new Helper(items);
            try {
                p.execute(helpers[w]);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                helpers[w].tryCancel(); // setThreads retired the pool meanwhile: the caller does the share
            }
        }
        int[] depth = CALLER_DEPTH.get();
        depth[0]++;
        Throwable failure = null;
        try {
            items.run();
        } catch (RuntimeException | Error e) {
            failure = e;
        } finally {
            depth[0]--;
        }
        for (Helper h : helpers) {
            if (h.tryCancel()) {
                continue;
            }
            h.join(); // started: its failure, if any, is in the helper (compute never throws)
            if (h.failure != null) {
                if (failure == null) {
                    failure = h.failure;
                } else if (failure != h.failure) {
                    failure.addSuppressed(h.failure);
                }
            }
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error err) {
            throw err;
        }
    }

    /** Items of a {@link #parallelFor} the caller is running: nested loops and GeMMs there run inline. */
    private static final ThreadLocal<int[]> CALLER_DEPTH = ThreadLocal.withInitial(() -> new int[1]);

    /**
     * Whether the current thread is already running parallel work (a pool worker, or a caller of
     * {@link #parallelFor} inside its items): nested parallelism then runs inline, since it would
     * only add hand-offs on a pool this size.
     */
    static boolean nested() {
        return ForkJoinTask.inForkJoinPool() || CALLER_DEPTH.get()[0] > 0;
    }

    /** The items of one {@link #parallelFor}, handed out one at a time from a shared counter. */
    private static final class Items {
        private final java.util.function.IntConsumer body;
        private final int count;
        private final java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();

        Items(java.util.function.IntConsumer body, int count) {
            this.body = body;
            this.count = count;
        }

        /** Runs items until none is left; a failure stops the handing out (others finish their item). */
        void run() {
            try {
                for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                    body.accept(i);
                }
            } catch (RuntimeException | Error e) {
                next.set(count);
                throw e;
            }
        }
    }

    /**
     * A pool task that takes items of a {@link #parallelFor} until none is left, unless the caller
     * cancelled it first (then it does nothing). It keeps its failure for the caller instead of
     * throwing, so the caller rethrows the original exception.
     */
    private static final class Helper extends java.util.concurrent.RecursiveAction {
        private static final long serialVersionUID = 1L;
        private static final int NEW = 0;
        private static final int RUNNING = 1;
        private static final int CANCELLED = 2;
        private final transient Items items;
        private final java.util.concurrent.atomic.AtomicInteger state = new java.util.concurrent.atomic.AtomicInteger(NEW);
        transient Throwable failure;

        Helper(Items items) {
            this.items = items;
        }

        /** true if the helper had not started and now never will. */
        boolean tryCancel() {
            return state.compareAndSet(NEW, CANCELLED);
        }

        @Override
        protected void compute() {
            if (!state.compareAndSet(NEW, RUNNING)) {
                return;
            }
            try {
                items.run();
            } catch (RuntimeException | Error e) {
                failure = e;
            }
        }
    }

    /**
     * Runs a task on the shared pool and waits for it. If {@link #setThreads} replaced (and shut
     * down) the pool between looking it up and submitting, the task is submitted to the new one.
     */
    static void invoke(ForkJoinTask<?> task) {
        while (true) {
            ForkJoinPool p = pool();
            try {
                p.invoke(task);
                return;
            } catch (java.util.concurrent.RejectedExecutionException e) {
                if (p == pool) {
                    throw e;
                }
                task.reinitialize();
            }
        }
    }
}
