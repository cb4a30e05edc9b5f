package dev.fp4.bench.jmh;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fp4.core.simd.Simd;
import org.junit.jupiter.api.Test;

/** The ceiling loop computes what it says (so its flop count is the work it does). */
class FmaCeilingBenchTest {

    @Test
    void identityFmaKeepsTheStartingValues() {
        // acc = acc·1 + 0 keeps each accumulator at its start 0..11: the lane sum is 66 per lane.
        assertEquals(66f * Simd.FLOAT_LANES, FmaCeilingBench.fmaLoop(1f, 0f));
    }

    @Test
    void everyStepAddsOnceToEveryChain() {
        // acc = acc·1 + 2^-10, STEPS = 2^16 times, is exact: each accumulator grows by 64.
        float expected = (66f + 12 * 64f) * Simd.FLOAT_LANES;
        assertEquals(expected, FmaCeilingBench.fmaLoop(1f, 0x1p-10f));
    }
}
