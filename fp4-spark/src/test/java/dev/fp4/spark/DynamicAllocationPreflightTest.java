package dev.fp4.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;

/** Barrier mode refuses dynamic allocation: the run says so before it starts (a context of its own). */
class DynamicAllocationPreflightTest {
    @Test
    void dynamicAllocationIsRefusedWithItsSetting() {
        try (JavaSparkContext sc = new JavaSparkContext(SparkTrainerTest.conf("local[2]").set("spark.dynamicAllocation.enabled", "true")
                .set("spark.dynamicAllocation.shuffleTracking.enabled", "true"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparkTrainer.fit(sc, SparkTrainerTest.data(),
                    SparkTrainerTest.MODEL, "fp32", PreflightTest.CFG, 2));
            assertEquals("spark.dynamicAllocation.enabled is true, and Spark's barrier mode cannot run with dynamic allocation: "
                    + "set spark.dynamicAllocation.enabled=false for this job", e.getMessage());
        }
    }
}
