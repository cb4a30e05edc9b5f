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
     * Runs {@code body.accept(i)} for every i in [0, count), spread over the shared pool; runs
     * inline when there is one thread, one item, or when called from inside a pool worker (nested
     * parallelism only adds overhead on a pool this size). The items must be independent.
     *
     * @param count number of independent items
     * @param body  the work for one item
     */
    public static void parallelFor(int count, java.util.function.IntConsumer body) {
        if (count <= 0) {
            return;
        }
        if (count == 1 || threads == 1 || ForkJoinTask.inForkJoinPool()) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        invoke(new Claim(body, count, Math.min(threads, count)));
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

    /**
     * The tasks of one {@link #parallelFor}: min(threads, count) of them take items one at a time
     * from a shared counter, so a fast thread takes more items and a call allocates the tasks and
     * the counter, nothing per item (a halving split allocated two tasks per item). The first task
     * (the root) forks the others, runs its share, and returns only after all have finished; an
     * exception stops the handing out of items and is rethrown once every task has ended.
     */
    private static final class Claim extends java.util.concurrent.RecursiveAction {
        private static final long serialVersionUID = 1L;
        private final transient java.util.function.IntConsumer body;
        private final int count;
        private final int workers;
        private final transient java.util.concurrent.atomic.AtomicInteger next;

        Claim(java.util.function.IntConsumer body, int count, int workers) {
            this(body, count, workers, new java.util.concurrent.atomic.AtomicInteger());
        }

        private Claim(java.util.function.IntConsumer body, int count, int workers,
                      java.util.concurrent.atomic.AtomicInteger next) {
            this.body = body;
            this.count = count;
            this.workers = workers;
            this.next = next;
        }

        @Override
        protected void compute() {
            if (workers <= 1) {
                run();
                return;
            }
            next.set(0); // a root resubmitted after reinitialize() starts over
            Claim[] helpers = new Claim[workers - 1];
            for (int w = 0; w < helpers.length; w++) {
                helpers[w] = new Claim(body, count, 1, next);
                helpers[w].fork();
            }
            Throwable failure = null;
            try {
                run();
            } catch (RuntimeException | Error e) {
                failure = e;
            }
            for (Claim h : helpers) {
                try {
                    h.join();
                } catch (RuntimeException | Error e) {
                    if (failure == null) {
                        failure = e;
                    } else if (failure != e) {
                        failure.addSuppressed(e);
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

        private void run() {
            try {
                for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                    body.accept(i);
                }
            } catch (RuntimeException | Error e) {
                next.set(count); // the other tasks stop after their current item
                throw e;
            }
        }
    }
}
