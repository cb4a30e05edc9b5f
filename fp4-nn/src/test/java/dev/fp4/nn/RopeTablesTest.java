package dev.fp4.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The rotary tables are the same bits on every platform: built with StrictMath (fdlibm), not Math's intrinsics. */
class RopeTablesTest {
    @Test
    void tablesAreStrictMathBitForBit() {
        int headDim = 64;
        int maxSeq = 4096;
        double theta = 500000;
        Rope rope = new Rope(headDim, maxSeq, theta);
        int half = headDim / 2;
        for (int p = 0; p < maxSeq; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * StrictMath.pow(theta, -2.0 * i / headDim);
                assertEquals(Float.floatToIntBits((float) StrictMath.cos(angle)), Float.floatToIntBits(rope.cosTable()[p * half + i]),
                        "cos at position " + p + ", pair " + i);
                assertEquals(Float.floatToIntBits((float) StrictMath.sin(angle)), Float.floatToIntBits(rope.sinTable()[p * half + i]),
                        "sin at position " + p + ", pair " + i);
            }
        }
    }
}
