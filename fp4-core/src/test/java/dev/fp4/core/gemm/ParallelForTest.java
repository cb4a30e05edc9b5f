package dev.fp4.core.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Gemm#parallelFor}: every item exactly once, inline where it must be, failures surfaced after every task ended. */
class ParallelForTest {
    private final int saved = Gemm.threads();

    @AfterEach
    void restore() {
        Gemm.setThreads(saved);
    }

    @Test
    void runsEveryItemExactlyOnceForAnyThreadCount() {
        for (int threads = 1; threads <= 4; threads++) {
            Gemm.setThreads(threads);
            for (int count : new int[] {0, 1, 2, 3, 7, 64, 1000}) {
                AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(count, 1));
                Gemm.parallelFor(count, i -> seen.incrementAndGet(i));
                for (int i = 0; i < count; i++) {
                    assertEquals(1, seen.get(i), "item " + i + " of " + count + " with " + threads + " threads");
                }
            }
        }
    }

    @Test
    void runsInlineInIncreasingOrderOnOneThreadAndInsideAWorker() {
        Gemm.setThreads(1);
        StringBuilder order = new StringBuilder();
        Gemm.parallelFor(5, i -> order.append(i));
        assertEquals("01234", order.toString());

        Gemm.setThreads(2);
        StringBuilder[] inner = new StringBuilder[4];
        Gemm.parallelFor(4, i -> {
            inner[i] = new StringBuilder();
            Gemm.parallelFor(3, j -> inner[i].append(j)); // nested: inline on the worker
        });
        for (StringBuilder b : inner) {
            assertEquals("012", b.toString());
        }
    }

    @Test
    void aFailingItemIsRethrownAndNoTaskRunsAfterTheCallReturns() {
        for (int threads = 2; threads <= 3; threads++) {
            Gemm.setThreads(threads);
            AtomicInteger started = new AtomicInteger();
            IllegalStateException boom = new IllegalStateException("item 5 failed");
            RuntimeException e = assertThrows(RuntimeException.class, () -> Gemm.parallelFor(10_000, i -> {
                started.incrementAndGet();
                if (i == 5) {
                    throw boom;
                }
                Thread.onSpinWait();
            }));
            // Rethrown as thrown, whether the caller or a pool worker ran item 5.
            assertTrue(e == boom, e.toString());
            int atReturn = started.get();
            assertTrue(atReturn < 10_000, "the remaining items were not handed out: " + atReturn);
            Gemm.parallelFor(2, i -> { }); // let the pool settle
            assertEquals(atReturn, started.get(), "a task was still running after the call returned");
        }
    }

    @Test
    void anErrorIsRethrownAsItself() {
        Gemm.setThreads(2);
        AssertionError boom = new AssertionError("boom");
        Throwable e = assertThrows(Throwable.class, () -> Gemm.parallelFor(100, i -> {
            if (i == 0) {
                throw boom;
            }
        }));
        assertTrue(e == boom, e.toString());
        AtomicInteger after = new AtomicInteger();
        Gemm.parallelFor(50, i -> after.incrementAndGet());
        assertEquals(50, after.get(), "the pool still works after a failure");
    }

    /** The caller takes part: with tiny items it usually runs them all before a parked worker wakes. */
    @Test
    void theCallerRunsItemsItself() {
        Gemm.setThreads(2);
        Thread caller = Thread.currentThread();
        AtomicInteger onCaller = new AtomicInteger();
        for (int rep = 0; rep < 200; rep++) {
            Gemm.parallelFor(4, i -> {
                if (Thread.currentThread() == caller) {
                    onCaller.incrementAndGet();
                }
            });
        }
        assertTrue(onCaller.get() > 0, "no item ran on the calling thread");
    }

    /** Items 0..threads−1 wait for each other: they finish only if the workers run them at the same time as the caller. */
    @Test
    void theWorkersRunItemsAtTheSameTimeAsTheCaller() throws InterruptedException {
        for (int threads = 2; threads <= 3; threads++) {
            Gemm.setThreads(threads);
            for (int rep = 0; rep < 20; rep++) {
                CountDownLatch all = new CountDownLatch(threads);
                AtomicInteger met = new AtomicInteger();
                Gemm.parallelFor(threads, i -> {
                    all.countDown();
                    try {
                        if (all.await(20, TimeUnit.SECONDS)) {
                            met.incrementAndGet();
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                assertEquals(threads, met.get(), "items that met the others, " + threads + " threads, rep " + rep);
            }
        }
    }

    /**
     * A loop allocates nothing on the caller or the workers: 20,000 calls with a bound body may
     * allocate less than 64 KB in all (under 4 bytes a call, so no per-call object of even 16
     * bytes fits; the slack covers the JVM's own allocation in these threads, e.g. by JIT
     * deoptimisation).
     */
    @Test
    void aLoopAllocatesNothing() throws ReflectiveOperationException {
        Gemm.setThreads(2);
        AtomicIntegerArray seen = new AtomicIntegerArray(8);
        IntConsumer body = seen::incrementAndGet;
        for (int rep = 0; rep < 20_000; rep++) {
            Gemm.parallelFor(8, body); // warm up: JIT, thread-locals, the workers' first run
        }
        long[] ids = threadIds();
        long before = allocatedBytes(ids);
        for (int rep = 0; rep < 20_000; rep++) {
            Gemm.parallelFor(8, body);
        }
        long allocated = allocatedBytes(ids) - before;
        assertTrue(allocated < 64 * 1024, "20,000 loops allocated " + allocated + " bytes");
        for (int i = 0; i < 8; i++) {
            assertEquals(40_000, seen.get(i), "item " + i);
        }
    }

    private static long[] threadIds() {
        java.util.List<Long> ids = new java.util.ArrayList<>();
        ids.add(Thread.currentThread().threadId());
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("fp4-worker-")) {
                ids.add(t.threadId());
            }
        }
        assertTrue(ids.size() >= 2, "no worker thread found");
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * Bytes allocated so far by the given threads (com.sun.management.ThreadMXBean, reached by
     * reflection: this test module does not read java.management).
     */
    private static long allocatedBytes(long[] ids) throws ReflectiveOperationException {
        Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        long[] bytes = (long[]) Class.forName("com.sun.management.ThreadMXBean")
                .getMethod("getThreadAllocatedBytes", long[].class).invoke(mx, (Object) ids);
        long s = 0;
        for (long b : bytes) {
            s += Math.max(0, b); // -1: a thread that ended
        }
        return s;
    }

    /** Two threads calling at once: each call still runs every item once (one of them inline). */
    @Test
    void concurrentCallersEachRunEveryItem() throws InterruptedException {
        Gemm.setThreads(2);
        int calls = 2_000;
        AtomicIntegerArray a = new AtomicIntegerArray(16);
        AtomicIntegerArray b = new AtomicIntegerArray(16);
        Thread other = new Thread(() -> {
            for (int rep = 0; rep < calls; rep++) {
                Gemm.parallelFor(16, a::incrementAndGet);
            }
        });
        other.start();
        for (int rep = 0; rep < calls; rep++) {
            Gemm.parallelFor(16, b::incrementAndGet);
        }
        other.join();
        for (int i = 0; i < 16; i++) {
            assertEquals(calls, a.get(i), "other thread, item " + i);
            assertEquals(calls, b.get(i), "this thread, item " + i);
        }
    }

    /** Changing the thread count retires the previous workers: their threads end. */
    @Test
    void retiredWorkersEnd() throws InterruptedException {
        Gemm.setThreads(3);
        Gemm.parallelFor(8, i -> { });
        java.util.List<Thread> workers = new java.util.ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("fp4-worker-")) {
                workers.add(t);
            }
        }
        assertTrue(workers.size() >= 2, "workers of 3 threads: " + workers);
        Gemm.setThreads(1);
        for (Thread t : workers) {
            t.join(20_000);
            assertTrue(!t.isAlive(), t.getName() + " still runs after setThreads(1)");
        }
        AtomicInteger after = new AtomicInteger();
        Gemm.parallelFor(5, i -> after.incrementAndGet());
        assertEquals(5, after.get());
    }
}
