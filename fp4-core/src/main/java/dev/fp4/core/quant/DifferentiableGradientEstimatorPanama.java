package dev.fp4.core.quant;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link DifferentiableGradientEstimator}, held equal to its scalar twins
 * bit for bit: loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class DifferentiableGradientEstimatorPanama {
    private static final VectorSpecies<Float> F = PanamaSimd.FLOAT;
    private static final VectorSpecies<Double> D = VectorSpecies.of(double.class, F.vectorShape());
    private static final VectorSpecies<Integer> I = PanamaSimd.INT;
    // The first D.length() lanes of an F vector: the floats one D vector widens or narrows. The
    // kernel stays on the one vector shape every other kernel uses (see DifferentiableGradientEstimator).
    private static final VectorMask<Float> LOW = VectorMask.fromLong(F, (1L << D.length()) - 1);

    private DifferentiableGradientEstimatorPanama() {
    }

    /**
     * Block by block (kept in L1): the distances go to dst ({@link DgeKernels#distancesVector}), their
     * table indices to a per-thread int scratch (the gathers take their indices from an int[]), then
     * {@link DifferentiableGradientEstimator#approximate} and {@link DifferentiableGradientEstimator#derivativeOfT}'s rounding run lanewise with the same operations
     * in the same order, so q is the same double in every lane; a vector with any lane outside the
     * safe range is redone element by element by {@link DifferentiableGradientEstimator#derivativeOfT}.
     */
    static void derivativesVector(DifferentiableGradientEstimator e, float[] x, int off, float[] dst, int dstOff, int n) {
        int[] index = DifferentiableGradientEstimator.INDEX.get(); // [0, DifferentiableGradientEstimator.BLOCK): sub-interval i of the mantissa; [DifferentiableGradientEstimator.BLOCK, 2·DifferentiableGradientEstimator.BLOCK): biased exponent E
        for (int b = 0; b < n; b += DifferentiableGradientEstimator.BLOCK) {
            int len = Math.min(DifferentiableGradientEstimator.BLOCK, n - b);
            int base = dstOff + b;
            DgeKernelsPanama.distancesVector(x, off + b, dst, base, len);
            int vb = F.loopBound(len);
            for (int j = 0; j < vb; j += F.length()) {
                IntVector bits = FloatVector.fromArray(F, dst, base + j).reinterpretAsInts();
                bits.lanewise(VectorOperators.LSHR, 23 - DifferentiableGradientEstimator.INDEX_BITS).and((1 << DifferentiableGradientEstimator.INDEX_BITS) - 1).intoArray(index, j);
                bits.lanewise(VectorOperators.LSHR, 23).and(0xFF).intoArray(index, DifferentiableGradientEstimator.BLOCK + j);
            }
            derivativesOfTVector(e, dst, base, vb, index);
            for (int p = base + vb; p < base + len; p++) {
                dst[p] = e.derivativeOfT(dst[p]);
            }
        }
    }

    /**
     * The lanewise part of {@link #derivativesVector} for dst[base, base + vb) (vb a multiple of the
     * lane count), the t's in dst and their table indices in {@code index}. A method of its own so
     * that C2 compiles it with a full inlining budget: inside the larger loop the shape-changing
     * conversions were once left as calls, which box every vector.
     */
    static void derivativesOfTVector(DifferentiableGradientEstimator e, float[] dst, int base, int vb, int[] index) {
        double[] sc = e.scale;
        double[] cp = e.centrePow;
        double[] ci = e.centreInv;
        for (int j = 0; j < vb; j += D.length()) {
            // t exactly as a double: its FP32 mantissa in the top 23 of the double's 52 bits.
            LongVector tb = ((DoubleVector) FloatVector.fromArray(F, dst, base + j, LOW)
                    .convertShape(VectorOperators.F2D, D, 0)).reinterpretAsLongs();
            DoubleVector m = tb.and(DifferentiableGradientEstimator.MANTISSA).or(DifferentiableGradientEstimator.ONE).reinterpretAsDoubles();
            DoubleVector c = tb.and(DifferentiableGradientEstimator.CENTRE_MASK).or(DifferentiableGradientEstimator.ONE | DifferentiableGradientEstimator.CENTRE_BIT).reinterpretAsDoubles();
            DoubleVector r = m.sub(c).mul(DoubleVector.fromArray(D, ci, 0, index, j));
            DoubleVector r2 = r.mul(r);
            DoubleVector series = r2.fma(r2.fma(r.fma(e.a5, e.a4), r.fma(e.a3, e.a2)), r.mul(e.a1)).add(1.0);
            LongVector q = DoubleVector.fromArray(D, sc, 0, index, DifferentiableGradientEstimator.BLOCK + j)
                    .mul(DoubleVector.fromArray(D, cp, 0, index, j)).mul(series).reinterpretAsLongs();
            LongVector biased = q.lanewise(VectorOperators.LSHR, 52);
            VectorMask<Long> safe = biased.compare(VectorOperators.GE, 1023 - 126)
                    .and(biased.compare(VectorOperators.LE, 1023 + 127))
                    .and(q.and(0x1FFF_FFFFL).sub(0x1000_0000L).abs().compare(VectorOperators.GT, DifferentiableGradientEstimator.GUARD));
            if (safe.allTrue()) {
                // The min runs on the longs: both sides are bits of positive floats, so it equals the
                // min of the ints (and of the floats).
                ((IntVector) q.add(0x1000_0000L).lanewise(VectorOperators.LSHR, 29).sub((long) (1023 - 127) << 23)
                        .min((long) e.clipBits).convertShape(VectorOperators.L2I, I, 0))
                        .reinterpretAsFloats().intoArray(dst, base + j, LOW);
            } else {
                for (int p = base + j; p < base + j + D.length(); p++) {
                    dst[p] = e.derivativeOfT(dst[p]);
                }
            }
        }
    }
}
