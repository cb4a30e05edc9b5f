package dev.fp4.core.simd;

import dev.fp4.core.simd.panama.PanamaSimd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("kernel")
class SimdTest {

    @Test
    void speciesAgreeOnWidth() {
        if (Simd.ENABLED) {
            assertEquals(Simd.BITS, PanamaSimd.FLOAT.vectorBitSize());
            assertEquals(Simd.BITS, PanamaSimd.INT.vectorBitSize());
            assertEquals(Simd.FLOAT_LANES, PanamaSimd.INT.length());
            assertEquals(Simd.FLOAT_LANES * 4, PanamaSimd.BYTE.length());
        } else {
            assertEquals(0, Simd.BITS);
        }
    }

    @Test
    void honoursTheProperty() {
        String requested = System.getProperty(Simd.PROPERTY);
        if (requested != null) {
            int bits = Integer.parseInt(requested);
            assertTrue(Simd.BITS <= bits, () -> "requested " + bits + " got " + Simd.BITS);
            if (bits == 0) {
                assertEquals(false, Simd.ENABLED);
            }
        }
    }
}
