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

    /** Number of threads parallel work is spread over (1 means everything runs on the caller). */
    public static int threads() {
        return threads;
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
        if (count == 1 || threads == 1 || nested()) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        // The caller takes part: it opens the call to the workers and starts on the items at once,
        // instead of waiting for a parked worker to wake (~10-90 µs on a VM). With the team busy
        // (another thread's loop), this one runs inline: the same results, one thread.
        WorkerTeam t = team();
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
