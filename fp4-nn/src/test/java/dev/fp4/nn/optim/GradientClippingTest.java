package dev.fp4.nn.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fp4.nn.Parameter;
import java.util.List;
import org.junit.jupiter.api.Test;

class GradientClippingTest {
    private static List<Parameter> grads345and12() {
        Parameter a = new Parameter("a", 2);
        Parameter b = new Parameter("b", 1, 1);
        a.grad()[0] = 3;
        a.grad()[1] = 4;
        b.grad()[0] = 12;
        return List.of(a, b);                      // global norm √(9 + 16 + 144) = 13
    }

    @Test
    void clipsToMaxNormAndReturnsThePreClipNorm() {
        List<Parameter> ps = grads345and12();
        assertEquals(13.0, GradientClipping.clipGlobalNorm(ps, 6.5), 0);
        float c = (float) (6.5 / (13 + 1e-6));
        assertArrayEquals(new float[] {3 * c, 4 * c}, ps.get(0).grad());
        assertArrayEquals(new float[] {12 * c}, ps.get(1).grad());
        double after = GradientClipping.globalNorm(ps);
        // 6.5·13/(13 + 1e-6) = 6.4999995; float rounding of the three products adds < 1e-6
        assertEquals(6.5, after, 2e-6);
        assertTrue(after <= 6.5 + 1e-6);
    }

    @Test
    void belowThresholdNonFiniteAndInvalid() {
        List<Parameter> ps = grads345and12();
        assertEquals(13.0, GradientClipping.clipGlobalNorm(ps, 13.0), 0);
        assertArrayEquals(new float[] {3, 4}, ps.get(0).grad());   // untouched, bit for bit
        ps.get(1).grad()[0] = Float.NaN;
        assertTrue(Double.isNaN(GradientClipping.clipGlobalNorm(ps, 1.0)));
        assertArrayEquals(new float[] {3, 4}, ps.get(0).grad());
        ps.get(1).grad()[0] = Float.POSITIVE_INFINITY;
        assertEquals(Double.POSITIVE_INFINITY, GradientClipping.clipGlobalNorm(ps, 1.0));
        assertThrows(IllegalArgumentException.class, () -> GradientClipping.clipGlobalNorm(ps, 0));
        assertThrows(IllegalArgumentException.class, () -> GradientClipping.clipGlobalNorm(ps, Double.NaN));
    }
}
