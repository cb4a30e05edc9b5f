package dev.fp4.nn.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LearningRateScheduleTest {
    @Test
    void paperScheduleWarmsUpOverFivePercentAndEndsAtTenPercent() {
        double peak = 3e-4;
        LearningRateSchedule s = LearningRateSchedule.paper(peak, 1000);   // W = 50
        assertEquals(peak / 50, s.at(0), 1e-18);                           // start of warm-up
        assertEquals(peak * 25 / 50, s.at(24), 1e-18);
        assertEquals(peak, s.at(49), 1e-18);                               // end of warm-up
        assertEquals(peak, s.at(50), 1e-18);                               // first decay step: p = 0
        // half-way through the decay, p = 0.5: floor + (peak - floor)/2 = 0.55·peak
        assertEquals(0.55 * peak, LearningRateSchedule.warmupCosine(peak, 50, 1051, 0.1).at(550), 1e-15);
        assertEquals(0.1 * peak, s.at(999), 1e-18);                        // last step: the floor
        assertEquals(0.1 * peak, s.at(5000), 1e-18);
        for (long t = 50; t < 999; t++) {
            assertTrue(s.at(t + 1) <= s.at(t), "non-increasing after warm-up at " + t);
        }
    }

    @Test
    void degenerateAndInvalidSchedules() {
        LearningRateSchedule noWarmup = LearningRateSchedule.warmupCosine(1, 0, 3, 0);
        assertEquals(1, noWarmup.at(0), 0);
        assertEquals(0.5, noWarmup.at(1), 1e-15);
        assertEquals(0, noWarmup.at(2), 1e-15);
        LearningRateSchedule one = LearningRateSchedule.paper(2, 1);       // W = 1 = T
        assertEquals(2, one.at(0), 0);
        assertEquals(0.2, one.at(1), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> LearningRateSchedule.warmupCosine(1, 5, 3, 0.1));
        assertThrows(IllegalArgumentException.class, () -> LearningRateSchedule.warmupCosine(-1, 0, 3, 0.1));
        assertThrows(IllegalArgumentException.class, () -> LearningRateSchedule.warmupCosine(1, 0, 3, 1.5));
        assertThrows(IllegalArgumentException.class, () -> noWarmup.at(-1));
    }
}
