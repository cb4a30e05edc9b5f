package dev.fp4.core.gemm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Threads of one's own ({@link Gemm.Pool}): two loops at once each get a second thread, and the bits do not change. */
class GemmPoolTest {

    /**
     * The loop's items wait (up to 20 s) until a second thread has joined: it completes quickly only
     * when the loop really runs on two threads. Returns how many distinct threads ran its items.
     */
    private static int threadsOfALoop() {
        Set<Thread> seen = ConcurrentHashMap.newKeySet();
        Gemm.parallelFor(8, i -> {
            seen.add(Thread.currentThread());
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (seen.size() < 2 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
        });
        return seen.size();
    }

    @Test
    void twoPoolsRunTwoLoopsAtOnceEachOnTwoThreads() throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(2);
        try (Gemm.Pool a = Gemm.Pool.of(2); Gemm.Pool b = Gemm.Pool.of(2)) {
            // both callers start their loops together; the shared team would serve only one of them
            java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2);
            Future<Integer> fa = callers.submit(() -> a.call(() -> {
                await(start);
                return threadsOfALoop();
            }));
            Future<Integer> fb = callers.submit(() -> b.call(() -> {
                await(start);
                return threadsOfALoop();
            }));
            assertEquals(2, fa.get(60, TimeUnit.SECONDS));
            assertEquals(2, fb.get(60, TimeUnit.SECONDS));
        } finally {
            callers.shutdownNow();
        }
    }

    private static void await(java.util.concurrent.CyclicBarrier b) {
        try {
            b.await(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void insideAPoolTheThreadCountIsThePoolsAndTheBitsAreTheSame() {
        SplittableRandom r = new SplittableRandom(3);
        int m = 67, n = 131, k = 200;
        float[] a = new float[m * k];
        float[] b = new float[n * k];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) r.nextGaussian();
        }
        float[] one = new float[m * n];
        float[] three = new float[m * n];
        try (Gemm.Pool p1 = Gemm.Pool.of(1); Gemm.Pool p3 = Gemm.Pool.of(3)) {
            assertEquals(1, p1.call(Gemm::threads));
            assertEquals(3, p3.call(Gemm::threads));
            p1.run(() -> FloatGemm.matmulNT(a, 0, b, 0, one, 0, m, n, k, false));
            p3.run(() -> FloatGemm.matmulNT(a, 0, b, 0, three, 0, m, n, k, false));
        }
        assertArrayEquals(one, three);
        assertTrue(Gemm.threads() >= 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Gemm.Pool.of(0));
        assertEquals("thread count must be at least 1; got 0", e.getMessage());
    }
}
