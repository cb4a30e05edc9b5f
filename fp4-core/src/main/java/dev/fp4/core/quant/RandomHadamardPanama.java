package dev.fp4.core.quant;

import dev.fp4.core.simd.panama.PanamaSimd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernel of {@link RandomHadamard}, held equal to its scalar twin bit for bit: loaded
 * only when {@link dev.fp4.core.simd.Simd#ENABLED}, since this class names Vector API types.
 */
final class RandomHadamardPanama {
    private RandomHadamardPanama() {
    }

    private static final VectorSpecies<Float> F = PanamaSimd.FLOAT;
    private static final int VL = F.length();
    private static final VectorShuffle<Float> SH1 = shuffle(1);
    private static final VectorShuffle<Float> SH2 = shuffle(2);
    private static final VectorShuffle<Float> SH4 = shuffle(4);
    private static final VectorShuffle<Float> SH8 = shuffle(8);
    private static final VectorMask<Float> M1 = upperHalves(1);
    private static final VectorMask<Float> M2 = upperHalves(2);
    private static final VectorMask<Float> M4 = upperHalves(4);
    private static final VectorMask<Float> M8 = upperHalves(8);


    /**
     * Vector kernel, bit for bit equal to {@link #transformScalar}: butterflies of stride below the
     * vector length run inside a register (a lane permutation i ↔ i XOR h, then p + (±v): for the
     * lower lane p + v = b + a, for the upper p − v = a − b, the scalar operations exactly), wider
     * ones between registers.
     *
     * @param tiled the signs repeated to max(size, VL) elements
     */
    static void transformVector(float[] x, int off, int len, int size, float[] tiled, float norm, boolean inverse) {
        int inReg = Math.min(size, VL); // strides below this run inside a register
        if (size >= VL) {
            for (int g = off; g < off + len; g += size) {
                for (int c = 0; c < size; c += VL) {
                    FloatVector v = FloatVector.fromArray(F, x, g + c);
                    if (!inverse) {
                        v = v.mul(FloatVector.fromArray(F, tiled, c));
                    }
                    if (inReg > 1) {
                        v = v.rearrange(SH1).add(v.lanewise(VectorOperators.NEG, M1));
                    }
                    if (inReg > 2) {
                        v = v.rearrange(SH2).add(v.lanewise(VectorOperators.NEG, M2));
                    }
                    if (inReg > 4) {
                        v = v.rearrange(SH4).add(v.lanewise(VectorOperators.NEG, M4));
                    }
                    if (inReg > 8) {
                        v = v.rearrange(SH8).add(v.lanewise(VectorOperators.NEG, M8));
                    }
                    if (size == VL) {
                        v = v.mul(norm);
                        if (inverse) {
                            v = v.mul(FloatVector.fromArray(F, tiled, c));
                        }
                    }
                    v.intoArray(x, g + c);
                }
                for (int h = VL; h < size; h <<= 1) {
                    boolean last = 2 * h == size;
                    for (int b = 0; b < size; b += 2 * h) {
                        for (int i = b; i < b + h; i += VL) {
                            FloatVector a = FloatVector.fromArray(F, x, g + i);
                            FloatVector c = FloatVector.fromArray(F, x, g + i + h);
                            FloatVector sum = a.add(c);
                            FloatVector diff = a.sub(c);
                            if (last) {
                                sum = sum.mul(norm);
                                diff = diff.mul(norm);
                                if (inverse) {
                                    sum = sum.mul(FloatVector.fromArray(F, tiled, i));
                                    diff = diff.mul(FloatVector.fromArray(F, tiled, i + h));
                                }
                            }
                            sum.intoArray(x, g + i);
                            diff.intoArray(x, g + i + h);
                        }
                    }
                }
            }
            return;
        }
        // size < VL: each vector holds VL/size whole groups (len is a multiple of size).
        FloatVector s = FloatVector.fromArray(F, tiled, 0);
        int bound = F.loopBound(len);
        int i = 0;
        for (; i < bound; i += VL) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            if (!inverse) {
                v = v.mul(s);
            }
            if (inReg > 1) {
                v = v.rearrange(SH1).add(v.lanewise(VectorOperators.NEG, M1));
            }
            if (inReg > 2) {
                v = v.rearrange(SH2).add(v.lanewise(VectorOperators.NEG, M2));
            }
            if (inReg > 4) {
                v = v.rearrange(SH4).add(v.lanewise(VectorOperators.NEG, M4));
            }
            v = v.mul(norm);
            if (inverse) {
                v = v.mul(s);
            }
            v.intoArray(x, off + i);
        }
        for (int g = off + i; g < off + len; g += size) {
            RandomHadamard.transformGroupScalar(x, g, size, tiled, norm, inverse);
        }
    }

    private static VectorShuffle<Float> shuffle(int h) {
        return h < VL ? VectorShuffle.fromOp(F, i -> i ^ h) : null;
    }

    /** Lanes whose index has bit h set (the "a − b" lanes of a stride-h butterfly). */
    private static VectorMask<Float> upperHalves(int h) {
        long bits = 0;
        for (int i = 0; i < VL; i++) {
            if ((i & h) != 0) {
                bits |= 1L << i;
            }
        }
        return VectorMask.fromLong(F, bits);
    }

}
