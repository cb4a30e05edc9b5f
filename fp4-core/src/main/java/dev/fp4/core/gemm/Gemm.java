package dev.fp4.core.gemm;

/**
 * The threads shared by the library's GeMMs and other parallel loops.
 *
 * <p>{@link #threads()} threads: the caller of a parallel loop and {@code threads − 1} daemon
 * worker threads started on first use (a {@link WorkerTeam}; a loop allocates nothing). The
 * count is read once from the system property {@value #PROPERTY} (default: all available
 * processors) and can be changed at run time with {@link #setThreads(int)}. Parallel work is
 * split over output tiles only, never over a reduction, so every result is the same bit for bit
 * whatever the thread count.
 *
 * <p>That team serves the whole JVM, one loop at a time: a loop started while another thread's loop
 * holds it runs on its caller alone. Work that runs beside other work in the same JVM (a second
 * model training, a server's requests) takes a {@link Pool} of its own and runs inside
 * {@link Pool#call}; every loop and GeMM called there uses the pool's threads.
 */
public final class Gemm {

    /** System property naming the initial number of threads (a positive integer). */
    public static final String PROPERTY = "fp4.threads";

    private static final Object LOCK = new Object();
    private static volatile WorkerTeam team;
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

    /**
     * Number of threads parallel work is spread over (1 means everything runs on the caller): the
     * current thread's {@link Pool} when it runs inside one, else the shared setting.
     */
    public static int threads() {
        Pool p = BOUND.get();
        return p != null ? p.threads : threads;
    }

    /** The pool the current thread runs inside ({@link Pool#call}), or null. */
    private static final ThreadLocal<Pool> BOUND = new ThreadLocal<>();

    /**
     * Threads of one's own: a caller of {@link #parallelFor} (and of every GeMM and layer loop)
     * inside {@link #call} or {@link #run} uses this pool's {@code threads − 1} daemon workers
     * instead of the shared team, so work in several threads of one JVM runs in parallel each.
     * Results are the same bit for bit as with the shared team. One loop at a time per pool (a
     * second thread inside the same pool runs its loops on its own thread). Close it to stop the
     * workers.
     */
    public static final class Pool implements AutoCloseable {
        private final int threads;
        private final WorkerTeam team;

        private Pool(int threads) {
            this.threads = threads;
            this.team = threads > 1 ? new WorkerTeam(threads - 1) : null;
        }

        /**
         * A pool of {@code threads} threads (the caller and threads − 1 workers, started now).
         *
         * @throws IllegalArgumentException if {@code threads < 1}
         */
        public static Pool of(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("thread count must be at least 1; got " + threads);
            }
            return new Pool(threads);
        }

        /** Its thread count. */
        public int threads() {
            return threads;
        }

        /** Runs {@code work} on the current thread with this pool's threads for its parallel loops. */
        public <T> T call(java.util.function.Supplier<T> work) {
            Pool previous = BOUND.get();
            BOUND.set(this);
            try {
                return work.get();
            } finally {
                BOUND.set(previous);
            }
        }

        /** As {@link #call}, for work without a result. */
        public void run(Runnable work) {
            call(() -> {
                work.run();
                return null;
            });
        }

        /** Stops the workers (a loop running in the pool finishes first). */
        @Override
        public void close() {
            if (team != null) {
                team.shutdown();
            }
        }
    }

    /**
     * Sets the number of threads; later calls use workers of this count (the previous workers
     * finish the call they are in and then exit; a call racing with the switch may run on fewer
     * threads). Results do not depend on this setting.
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
            WorkerTeam old = team;
            team = null;
            threads = n;
            if (old != null) {
                old.shutdown();
            }
        }
    }

    /** The workers of the current thread count, started on first use; null with one thread. */
    private static WorkerTeam team() {
        WorkerTeam t = team;
        if (t == null) {
            synchronized (LOCK) {
                t = team;
                if (t == null && threads > 1) {
                    t = new WorkerTeam(threads - 1);
                    team = t;
                }
            }
        }
        return t;
    }

    /**
     * Runs {@code body.accept(i)} for every i in [0, count), on the calling thread and up to
     * {@link #threads()} − 1 worker threads, each taking the next item from a shared counter; runs
     * inline when there is one thread, one item, when called from a worker or from the items of
     * another {@code parallelFor} (nested parallelism only adds hand-offs with this few threads),
     * or while another thread's loop holds the workers. Allocates nothing. Returns after every item
     * has finished; the first failure is rethrown as it was thrown (the caller's own first, others
     * added to it as suppressed). The items must be independent.
     *
     * @param count number of independent items
     * @param body  the work for one item
     */
    public static void parallelFor(int count, java.util.function.IntConsumer body) {
        if (count <= 0) {
            return;
        }
        Pool pool = BOUND.get();
        if (count == 1 || (pool != null ? pool.threads : threads) == 1 || nested()) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        // The caller takes part: it opens the call to the workers and starts on the items at once,
        // instead of waiting for a parked worker to wake (~10-90 µs on a VM). With the team busy
        // (another thread's loop), this one runs inline: the same results, one thread.
        WorkerTeam t = pool != null ? pool.team : team();
        if (t == null || !t.tryAcquire()) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        int[] depth = CALLER_DEPTH.get();
        depth[0]++;
        try {
            t.run(count, body);
        } finally {
            depth[0]--;
        }
    }

    /**
     * Where piece {@code piece} of {@code units} split into {@code pieces} near-equal parts starts:
     * ⌊units · piece / pieces⌋ (so piece {@code pieces} starts at {@code units}); the parts of a
     * parallel loop's items.
     */
    public static int splitPoint(int units, int piece, int pieces) {
        return (int) ((long) units * piece / pieces);
    }

    /** Items of a {@link #parallelFor} the caller is running: nested loops and GeMMs there run inline. */
    private static final ThreadLocal<int[]> CALLER_DEPTH = ThreadLocal.withInitial(() -> new int[1]);

    /**
     * Whether the current thread is already running parallel work (a worker, or a caller of
     * {@link #parallelFor} inside its items): nested parallelism then runs inline, since it would
     * only add hand-offs with this few threads.
     */
    static boolean nested() {
        return WorkerTeam.isWorker() || CALLER_DEPTH.get()[0] > 0;
    }
}
