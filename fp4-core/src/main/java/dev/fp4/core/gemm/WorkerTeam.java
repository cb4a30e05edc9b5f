package dev.fp4.core.gemm;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The library's worker threads: {@code size} daemon threads that run the items of one
 * {@link Gemm#parallelFor} at a time together with the thread that called it.
 *
 * <p>A call allocates nothing: its state (body, item count, the shared item counter) lives in
 * fields reused from call to call, and the hand-off is one {@link AtomicLong}, {@code state} =
 * epoch · 2^32 + CLOSED + joined. The caller publishes the call's fields, opens a new epoch and
 * starts on the items itself; a worker that sees the new epoch while it is open joins it (the
 * joined count goes up by one) and takes items from the same counter. When the items run out the
 * caller closes the epoch, which fixes the joined count, and waits until that many workers have
 * finished. A worker that comes too late does not join and is not waited for.
 *
 * <p>Between calls a worker spins for {@link #SPIN_NANOS} (the layers' parallel sections follow
 * each other within microseconds, and waking a parked thread costs ~10–90 µs on a VM), then parks
 * until the next call unparks it.
 *
 * <p>One caller at a time: {@link #tryAcquire} fails while another thread's call runs, and
 * {@link Gemm#parallelFor} then runs that call's items inline (the items write disjoint data, so
 * the results are the same either way).
 */
final class WorkerTeam {

    /** How long an idle worker spins before it parks, in nanoseconds (system property fp4.spinMicros). */
    static final long SPIN_NANOS = 1000L * Long.getLong("fp4.spinMicros", 50L);

    private static final long CLOSED = 1L << 31;
    private static final long JOINED = CLOSED - 1;

    private final Worker[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    private final AtomicLong state = new AtomicLong(CLOSED);
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger finished = new AtomicInteger();
    /** A failure per worker of the current call (null: none). */
    private final Throwable[] failures;
    private volatile boolean shutdown;

    // The current call, written by the caller before it opens the epoch (the volatile write of
    // state) and read by workers after they read the open epoch.
    private IntConsumer body;
    private int count;
    private int helpers;

    /** Starts {@code size} ≥ 1 daemon worker threads. */
    WorkerTeam(int size) {
        workers = new Worker[size];
        failures = new Throwable[size];
        for (int w = 0; w < size; w++) {
            workers[w] = new Worker(this, w);
        }
        for (Worker w : workers) {
            w.start();
        }
    }

    /** Number of worker threads (the caller of a call is one more). */
    int size() {
        return workers.length;
    }

    /** Claims the team for one call; false while another thread's call runs. */
    boolean tryAcquire() {
        return busy.compareAndSet(false, true);
    }

    /**
     * Runs items [0, count) of {@code body} on the caller and up to min(size, count − 1) workers;
     * the caller must hold the team ({@link #tryAcquire}) and releases it on return. Rethrows the
     * caller's own failure, else the first worker's, with the others added as suppressed.
     */
    void run(int count, IntConsumer body) {
        try {
            this.body = body;
            this.count = count;
            this.helpers = Math.min(workers.length, count - 1);
            next.set(0);
            finished.set(0);
            long epoch = (state.get() >>> 32) + 1;
            state.set(epoch << 32); // open, nobody joined: publishes the fields above
            for (int w = 0; w < helpers; w++) {
                Worker worker = workers[w];
                if (worker.parked) {
                    LockSupport.unpark(worker);
                }
            }
            Throwable failure = null;
            try {
                items();
            } catch (RuntimeException | Error e) {
                failure = e;
            }
            long s = state.getAndAdd(CLOSED); // the epoch is open (CLOSED clear) until here
            int joined = (int) (s & JOINED);
            awaitFinished(joined);
            for (int w = 0; w < failures.length; w++) {
                Throwable f = failures[w];
                if (f != null) {
                    failures[w] = null;
                    if (failure == null) {
                        failure = f;
                    } else if (failure != f) {
                        failure.addSuppressed(f);
                    }
                }
            }
            if (failure instanceof RuntimeException re) {
                throw re;
            }
            if (failure instanceof Error err) {
                throw err;
            }
        } finally {
            this.body = null;
            busy.set(false);
        }
    }

    /** Runs items until none is left; a failure stops the handing out (others finish their item). */
    private void items() {
        IntConsumer b = body;
        int n = count;
        try {
            for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
                b.accept(i);
            }
        } catch (RuntimeException | Error e) {
            next.set(n);
            throw e;
        }
    }

    /** Waits (spinning, then yielding) until {@code joined} workers have finished their last item. */
    private void awaitFinished(int joined) {
        for (int spins = 0; finished.get() < joined; spins++) {
            if (spins < 1 << 12) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }

    /** Stops the workers once they are idle (the current call, if any, is finished first). */
    void shutdown() {
        shutdown = true;
        for (Worker w : workers) {
            LockSupport.unpark(w);
        }
    }

    /** Whether the current thread is one of a team's workers. */
    static boolean isWorker() {
        return Thread.currentThread() instanceof Worker;
    }

    /** One worker thread: waits for an open epoch, joins it, runs items, and waits again. */
    private static final class Worker extends Thread {
        private final WorkerTeam team;
        private final int index;
        volatile boolean parked;

        Worker(WorkerTeam team, int index) {
            super("fp4-worker-" + index);
            this.team = team;
            this.index = index;
            setDaemon(true);
        }

        @Override
        public void run() {
            WorkerTeam t = team;
            AtomicLong state = t.state;
            long seen = 0; // the team's first epoch (closed): a call opened before this thread ran is still joined
            while (!t.shutdown) {
                long s = state.get();
                long epoch = s >>> 32;
                if (epoch == seen) {
                    idle(seen);
                    continue;
                }
                if ((s & CLOSED) != 0 || index >= t.helpers) {
                    seen = epoch; // too late, or not needed for this call
                    continue;
                }
                if (!state.compareAndSet(s, s + 1)) {
                    continue; // another worker joined, or the caller closed: look again
                }
                seen = epoch;
                try {
                    t.items();
                } catch (RuntimeException | Error e) {
                    t.failures[index] = e;
                }
                t.finished.incrementAndGet();
            }
        }

        /** Spins for SPIN_NANOS while the epoch stays {@code seen}, then parks until unparked. */
        private void idle(long seen) {
            WorkerTeam t = team;
            long start = System.nanoTime();
            while (t.state.get() >>> 32 == seen && !t.shutdown) {
                for (int i = 0; i < 64; i++) {
                    Thread.onSpinWait();
                }
                if (System.nanoTime() - start > SPIN_NANOS) {
                    parked = true;
                    // Re-read after announcing: a caller that opened an epoch before it saw
                    // parked = true has made it visible here (both are volatile).
                    if (t.state.get() >>> 32 == seen && !t.shutdown) {
                        LockSupport.park(this);
                    }
                    parked = false;
                    start = System.nanoTime();
                }
            }
        }
    }
}
