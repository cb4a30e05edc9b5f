package dev.fp4.core.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
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
}
