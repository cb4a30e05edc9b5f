package dev.fp4.core.quant;

import dev.fp4.core.simd.panama.PanamaSimd;
import dev.fp4.core.simd.Simd;
import java.util.Objects;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernels of {@link QuantKernels}, held equal to its scalar twins bit for bit:
 * loaded only when {@link Simd#ENABLED}, since this class names Vector API types.
 */
final class QuantKernelsPanama {
    private QuantKernelsPanama() {
    }

    // ================================================================ vector kernels
    // Layout of the vector code (after Lucene's PanamaVectorUtilSupport): one species from Simd,
    // vector bodies written out in full inside each kernel (no helper methods taking or returning
    // vectors, which might not inline and would then box), scalar head and tail through the twin.

    static final VectorSpecies<Float> F = PanamaSimd.FLOAT;
    static final VectorSpecies<Integer> I = PanamaSimd.INT;
    static final int L = F.length();
    /** Bytes of 2L packed codes: L lanes, or 8 when L = 4 (the smallest byte species). */
    static final VectorSpecies<Byte> BV = L >= 16 ? ByteVector.SPECIES_128 : ByteVector.SPECIES_64;
    /** L codes pack into L/2 bytes, held in a 64-bit byte vector (exactly full when L = 16). */
    static final VectorSpecies<Byte> PACK = ByteVector.SPECIES_64;
    static final boolean PACK_EXACT = PACK.length() == L / 2;
    static final int[] INTERLEAVE_LO = new int[L];
    static final int[] INTERLEAVE_HI = new int[L];
    static final int[] IOTA = new int[L];
    /** Bits of the 16 E2M1 values by code (padded to L entries). */
    static final int[] VALUE_BITS = new int[Math.max(16, L)];
    /** Bits of the 8 E2M1 magnitudes by 3-bit code (padded to L entries). */
    static final int[] MAGNITUDE_BITS = new int[Math.max(8, L)];

    static {
        for (int k = 0; k < L; k++) {
            INTERLEAVE_LO[k] = (k & 1) == 0 ? k / 2 : L + k / 2;
            INTERLEAVE_HI[k] = (k & 1) == 0 ? L / 2 + k / 2 : L + L / 2 + k / 2;
            IOTA[k] = k;
        }
        for (int c = 0; c < 16; c++) {
            float v = QuantKernels.MAGNITUDES[c & 7];
            VALUE_BITS[c] = Float.floatToRawIntBits((c & 8) != 0 ? -v : v);
        }
        for (int c = 0; c < 8; c++) {
            MAGNITUDE_BITS[c] = Float.floatToRawIntBits(QuantKernels.MAGNITUDES[c]);
        }
    }

    static float absMaxVector(float[] x, int off, int n) {
        // |x| as FP32 bits orders like the values (NaN bits above +inf), so an integer max is
        // exact and avoids the NaN-aware float max sequence. The mask is broadcast once, outside the
        // loop: no lanewise(op, scalar) call, whose shared receiver profile C2 consults, in the loop.
        IntVector magnitude = IntVector.broadcast(I, 0x7FFFFFFF);
        IntVector acc0 = IntVector.zero(I);
        IntVector acc1 = IntVector.zero(I);
        IntVector acc2 = IntVector.zero(I);
        IntVector acc3 = IntVector.zero(I);
        int i = 0;
        for (; i + 4 * L <= n; i += 4 * L) {
            acc0 = acc0.max(FloatVector.fromArray(F, x, off + i).reinterpretAsInts().and(magnitude));
            acc1 = acc1.max(FloatVector.fromArray(F, x, off + i + L).reinterpretAsInts().and(magnitude));
            acc2 = acc2.max(FloatVector.fromArray(F, x, off + i + 2 * L).reinterpretAsInts().and(magnitude));
            acc3 = acc3.max(FloatVector.fromArray(F, x, off + i + 3 * L).reinterpretAsInts().and(magnitude));
        }
        for (; i + L <= n; i += L) {
            acc0 = acc0.max(FloatVector.fromArray(F, x, off + i).reinterpretAsInts().and(magnitude));
        }
        int m = acc0.max(acc1).max(acc2.max(acc3)).reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            m = Math.max(m, Float.floatToRawIntBits(x[off + i]) & 0x7FFFFFFF);
        }
        return m > 0x7F800000 ? Float.NaN : Float.intBitsToFloat(m);
    }

    static void absMaxIntoVector(float[] x, int off, float[] acc, int accOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector m = FloatVector.fromArray(F, acc, accOff + i).max(FloatVector.fromArray(F, x, off + i).abs());
            m = m.blend(Float.NaN, m.test(VectorOperators.IS_NAN));
            m.intoArray(acc, accOff + i);
        }
        if (i < n) {
            QuantKernels.absMaxIntoScalar(x, off + i, acc, accOff + i, n - i);
        }
    }

    static void scaleVector(float[] x, int off, int n, float s) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, x, off + i).mul(s).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= s;
        }
    }

    static void multiplyVector(float[] x, int off, float[] s, int sOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, x, off + i).mul(FloatVector.fromArray(F, s, sOff + i)).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= s[sOff + i];
        }
    }

    static void decodeVector(byte[] src, int index, int n, float[] dst, int dstOff) {
        int i = 0;
        if ((index & 1) != 0 && n > 0) {
            QuantKernels.decodeScalar(src, index, 1, dst, dstOff);
            i = 1;
        }
        IntVector interleaveLo = IntVector.fromArray(I, INTERLEAVE_LO, 0);
        IntVector interleaveHi = IntVector.fromArray(I, INTERLEAVE_HI, 0);
        IntVector tableA = IntVector.fromArray(I, L >= 16 ? VALUE_BITS : L == 8 ? VALUE_BITS : MAGNITUDE_BITS, 0);
        IntVector tableB = IntVector.fromArray(I, L >= 16 ? VALUE_BITS : L == 8 ? VALUE_BITS : MAGNITUDE_BITS,
                L >= 16 ? 0 : L);
        for (; i + 2 * L <= n && ((index + i) >>> 1) + BV.length() <= src.length; i += 2 * L) {
            ByteVector b = ByteVector.fromArray(BV, src, (index + i) >>> 1);
            IntVector w = (IntVector) b.convertShape(VectorOperators.B2I, I, 0);
            IntVector cl = w.and(0xF);
            IntVector ch = w.lanewise(VectorOperators.LSHR, 4).and(0xF);
            IntVector vl;
            IntVector vh;
            if (L >= 16) {
                vl = cl.selectFrom(tableA);
                vh = ch.selectFrom(tableA);
            } else if (L == 8) {
                vl = cl.selectFrom(tableA, tableB);
                vh = ch.selectFrom(tableA, tableB);
            } else {
                vl = cl.and(7).selectFrom(tableA, tableB).or(cl.and(8).lanewise(VectorOperators.LSHL, 28));
                vh = ch.and(7).selectFrom(tableA, tableB).or(ch.and(8).lanewise(VectorOperators.LSHL, 28));
            }
            interleaveLo.selectFrom(vl, vh).reinterpretAsFloats().intoArray(dst, dstOff + i);
            interleaveHi.selectFrom(vl, vh).reinterpretAsFloats().intoArray(dst, dstOff + i + L);
        }
        if (i < n) {
            QuantKernels.decodeScalar(src, index + i, n - i, dst, dstOff + i);
        }
    }

    static void encodeRneVector(float[] x, int xOff, float[] mul, int mulOff, int n, Rounding rounding,
            byte[] dst, int index) {

        int i = 0;
        if ((index & 1) != 0 && n > 0) {
            QuantKernels.encodeScalar(x, xOff, mul, mulOff, 1, rounding, dst, index);
            i = 1;
        }
        VectorMask<Byte> store = PACK.indexInRange(0, L / 2);

        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(FloatVector.fromArray(F, mul, mulOff + i));

            IntVector bc0 = y0.reinterpretAsInts();
            IntVector mc0 = bc0.and(0x7FFFFFFF);
            IntVector smallc0 = mc0.reinterpretAsFloats().add(0x1p22f).reinterpretAsInts().sub(0x4A800000).min(2);
            IntVector bigc0 = mc0.add(mc0.lanewise(VectorOperators.LSHR, 22).and(1)).add(0x1FFFFF)
                    .lanewise(VectorOperators.LSHR, 22).sub(252).min(7);
            IntVector c0 = bigc0.max(smallc0).or(bc0.lanewise(VectorOperators.LSHR, 28).and(8));
            // Codes 2k and 2k+1 share a 64-bit lane (little-endian): byte = low | (high << 4).
            LongVector pair = c0.reinterpretAsLongs();
            ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                    .convertShape(VectorOperators.L2B, PACK, 0);
            if (PACK_EXACT) {
                b.intoArray(dst, (index + i) >>> 1);
            } else {
                b.intoArray(dst, (index + i) >>> 1, store);
            }
        }
        if (i < n) {
            QuantKernels.encodeScalar(x, xOff + i, mul, mulOff + i, n - i, rounding, dst, index + i);
        }
    }

    static void fakeQuantizeRneVector(float[] x, int off, float[] mul, int mulOff, float[] scl, int sclOff,
            int n, float tensorScale, Rounding rounding, int index) {

        IntVector magA = IntVector.fromArray(I, MAGNITUDE_BITS, 0);
        IntVector magB = IntVector.fromArray(I, MAGNITUDE_BITS, L >= 8 ? 0 : L);

        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, off + i).mul(FloatVector.fromArray(F, mul, mulOff + i));

            IntVector bc0 = y0.reinterpretAsInts();
            IntVector mc0 = bc0.and(0x7FFFFFFF);
            IntVector smallc0 = mc0.reinterpretAsFloats().add(0x1p22f).reinterpretAsInts().sub(0x4A800000).min(2);
            IntVector bigc0 = mc0.add(mc0.lanewise(VectorOperators.LSHR, 22).and(1)).add(0x1FFFFF)
                    .lanewise(VectorOperators.LSHR, 22).sub(252).min(7);
            IntVector c0 = bigc0.max(smallc0).or(bc0.lanewise(VectorOperators.LSHR, 28).and(8));
            IntVector q0 = c0.and(7);
            IntVector bits;
            if (L >= 8) {
                bits = q0.selectFrom(magA);
            } else {
                bits = q0.selectFrom(magA, magB);
            }
            bits = bits.or(c0.and(8).lanewise(VectorOperators.LSHL, 28));
            bits.reinterpretAsFloats().mul(FloatVector.fromArray(F, scl, sclOff + i)).mul(tensorScale)
                    .intoArray(x, off + i);
        }
        if (i < n) {
            QuantKernels.fakeQuantizeScalar(x, off + i, mul, mulOff + i, scl, sclOff + i, n - i, tensorScale, rounding, index + i);
        }
    }

    static void encodeHalfUpVector(float[] x, int xOff, float[] mul, int mulOff, int n, Rounding rounding,
            byte[] dst, int index) {

        int i = 0;
        if ((index & 1) != 0 && n > 0) {
            QuantKernels.encodeScalar(x, xOff, mul, mulOff, 1, rounding, dst, index);
            i = 1;
        }
        VectorMask<Byte> store = PACK.indexInRange(0, L / 2);

        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(FloatVector.fromArray(F, mul, mulOff + i));

            IntVector c0 = IntVector.zero(I);
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 2.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -2.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 3.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -3.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -5f).cast(I));
            c0 = c0.lanewise(VectorOperators.OR, 8, y0.compare(VectorOperators.LT, -0.25f).cast(I));
            c0 = c0.blend(7, y0.test(VectorOperators.IS_NAN).cast(I));
            // Codes 2k and 2k+1 share a 64-bit lane (little-endian): byte = low | (high << 4).
            LongVector pair = c0.reinterpretAsLongs();
            ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                    .convertShape(VectorOperators.L2B, PACK, 0);
            if (PACK_EXACT) {
                b.intoArray(dst, (index + i) >>> 1);
            } else {
                b.intoArray(dst, (index + i) >>> 1, store);
            }
        }
        if (i < n) {
            QuantKernels.encodeScalar(x, xOff + i, mul, mulOff + i, n - i, rounding, dst, index + i);
        }
    }

    static void fakeQuantizeHalfUpVector(float[] x, int off, float[] mul, int mulOff, float[] scl, int sclOff,
            int n, float tensorScale, Rounding rounding, int index) {

        IntVector magA = IntVector.fromArray(I, MAGNITUDE_BITS, 0);
        IntVector magB = IntVector.fromArray(I, MAGNITUDE_BITS, L >= 8 ? 0 : L);

        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, off + i).mul(FloatVector.fromArray(F, mul, mulOff + i));

            IntVector c0 = IntVector.zero(I);
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.25f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.75f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 2.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -2.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 3.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -3.5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.GE, 5f).cast(I));
            c0 = c0.add(1, y0.compare(VectorOperators.LT, -5f).cast(I));
            c0 = c0.lanewise(VectorOperators.OR, 8, y0.compare(VectorOperators.LT, -0.25f).cast(I));
            c0 = c0.blend(7, y0.test(VectorOperators.IS_NAN).cast(I));
            IntVector q0 = c0.and(7);
            IntVector bits;
            if (L >= 8) {
                bits = q0.selectFrom(magA);
            } else {
                bits = q0.selectFrom(magA, magB);
            }
            bits = bits.or(c0.and(8).lanewise(VectorOperators.LSHL, 28));
            bits.reinterpretAsFloats().mul(FloatVector.fromArray(F, scl, sclOff + i)).mul(tensorScale)
                    .intoArray(x, off + i);
        }
        if (i < n) {
            QuantKernels.fakeQuantizeScalar(x, off + i, mul, mulOff + i, scl, sclOff + i, n - i, tensorScale, rounding, index + i);
        }
    }

    static void encodeStochasticVector(float[] x, int xOff, float[] mul, int mulOff, int n, Rounding rounding,
            byte[] dst, int index) {
        int k0 = rounding.key0();
        int k1 = rounding.key1();
        int i = 0;
        if ((index & 1) != 0 && n > 0) {
            QuantKernels.encodeScalar(x, xOff, mul, mulOff, 1, rounding, dst, index);
            i = 1;
        }
        VectorMask<Byte> store = PACK.indexInRange(0, L / 2);
        IntVector iota = IntVector.fromArray(I, IOTA, 0);
        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(FloatVector.fromArray(F, mul, mulOff + i));
            IntVector idx0 = iota.add(index + i);
            IntVector hc0 = idx0.mul(0x9E3779B9).lanewise(VectorOperators.XOR, k0);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).lanewise(VectorOperators.XOR, k1);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16));
            FloatVector uc0 = ((FloatVector) hc0.lanewise(VectorOperators.LSHR, 8).convert(VectorOperators.I2F, 0)).mul(0x1p-24f);
            FloatVector ac0 = y0.abs();
            ac0 = ac0.blend(Float.POSITIVE_INFINITY, ac0.test(VectorOperators.IS_NAN));
            IntVector c0 = y0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 28).and(8);
            FloatVector loc0 = FloatVector.zero(F);
            FloatVector invc0 = FloatVector.broadcast(F, 2f);
            VectorMask<Float> gc0;
            gc0 = ac0.compare(VectorOperators.GE, 0.5f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(0.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 1f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(1f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 1.5f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(1.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 2f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(2f, gc0);
            invc0 = invc0.blend(1f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 3f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(3f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 4f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(4f, gc0);
            invc0 = invc0.blend(0.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 6f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(6f, gc0);
            invc0 = invc0.blend(0f, gc0);
            c0 = c0.add(1, uc0.compare(VectorOperators.LT, ac0.sub(loc0).mul(invc0)).cast(I));
            // Codes 2k and 2k+1 share a 64-bit lane (little-endian): byte = low | (high << 4).
            LongVector pair = c0.reinterpretAsLongs();
            ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                    .convertShape(VectorOperators.L2B, PACK, 0);
            if (PACK_EXACT) {
                b.intoArray(dst, (index + i) >>> 1);
            } else {
                b.intoArray(dst, (index + i) >>> 1, store);
            }
        }
        if (i < n) {
            QuantKernels.encodeScalar(x, xOff + i, mul, mulOff + i, n - i, rounding, dst, index + i);
        }
    }

    static void fakeQuantizeStochasticVector(float[] x, int off, float[] mul, int mulOff, float[] scl, int sclOff,
            int n, float tensorScale, Rounding rounding, int index) {
        int k0 = rounding.key0();
        int k1 = rounding.key1();
        IntVector magA = IntVector.fromArray(I, MAGNITUDE_BITS, 0);
        IntVector magB = IntVector.fromArray(I, MAGNITUDE_BITS, L >= 8 ? 0 : L);
        IntVector iota = IntVector.fromArray(I, IOTA, 0);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector y0 = FloatVector.fromArray(F, x, off + i).mul(FloatVector.fromArray(F, mul, mulOff + i));
            IntVector idx0 = iota.add(index + i);
            IntVector hc0 = idx0.mul(0x9E3779B9).lanewise(VectorOperators.XOR, k0);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).lanewise(VectorOperators.XOR, k1);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
            hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16));
            FloatVector uc0 = ((FloatVector) hc0.lanewise(VectorOperators.LSHR, 8).convert(VectorOperators.I2F, 0)).mul(0x1p-24f);
            FloatVector ac0 = y0.abs();
            ac0 = ac0.blend(Float.POSITIVE_INFINITY, ac0.test(VectorOperators.IS_NAN));
            IntVector c0 = y0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 28).and(8);
            FloatVector loc0 = FloatVector.zero(F);
            FloatVector invc0 = FloatVector.broadcast(F, 2f);
            VectorMask<Float> gc0;
            gc0 = ac0.compare(VectorOperators.GE, 0.5f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(0.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 1f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(1f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 1.5f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(1.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 2f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(2f, gc0);
            invc0 = invc0.blend(1f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 3f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(3f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 4f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(4f, gc0);
            invc0 = invc0.blend(0.5f, gc0);
            gc0 = ac0.compare(VectorOperators.GE, 6f);
            c0 = c0.add(1, gc0.cast(I));
            loc0 = loc0.blend(6f, gc0);
            invc0 = invc0.blend(0f, gc0);
            c0 = c0.add(1, uc0.compare(VectorOperators.LT, ac0.sub(loc0).mul(invc0)).cast(I));
            IntVector q0 = c0.and(7);
            IntVector bits;
            if (L >= 8) {
                bits = q0.selectFrom(magA);
            } else {
                bits = q0.selectFrom(magA, magB);
            }
            bits = bits.or(c0.and(8).lanewise(VectorOperators.LSHL, 28));
            bits.reinterpretAsFloats().mul(FloatVector.fromArray(F, scl, sclOff + i)).mul(tensorScale)
                    .intoArray(x, off + i);
        }
        if (i < n) {
            QuantKernels.fakeQuantizeScalar(x, off + i, mul, mulOff + i, scl, sclOff + i, n - i, tensorScale, rounding, index + i);
        }
    }

    static void encodeBlocksRneVector(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff,
            Rounding rounding, byte[] dst, int index, float[] next, int nextOff, float[] nextAmax, int naOff) {

        // One block per outer iteration (blockCols is a multiple of L or the whole row), so no
        // vector lives across blocks or past the loops: nothing is boxed.
        int blocks = (n + blockCols - 1) / blockCols;
        int i = 0;
        for (int j = 0; j < blocks; j++) {
            int end = Math.min(n, (j + 1) * blockCols);
            float m = blockMul[bmOff + j];
            if (next != null) {
                IntVector acc = IntVector.zero(I);
                for (; i + L <= end; i += L) {
                    acc = acc.max(FloatVector.fromArray(F, next, nextOff + i).reinterpretAsInts().and(0x7FFFFFFF));
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);

                    IntVector bc0 = y0.reinterpretAsInts();
                    IntVector mc0 = bc0.and(0x7FFFFFFF);
                    IntVector smallc0 = mc0.reinterpretAsFloats().add(0x1p22f).reinterpretAsInts().sub(0x4A800000).min(2);
                    IntVector bigc0 = mc0.add(mc0.lanewise(VectorOperators.LSHR, 22).and(1)).add(0x1FFFFF)
                            .lanewise(VectorOperators.LSHR, 22).sub(252).min(7);
                    IntVector c0 = bigc0.max(smallc0).or(bc0.lanewise(VectorOperators.LSHR, 28).and(8));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
                int a = acc.reduceLanes(VectorOperators.MAX);
                for (int t = i; t < end; t++) {
                    a = Math.max(a, Float.floatToRawIntBits(next[nextOff + t]) & 0x7FFFFFFF);
                }
                nextAmax[naOff + j] = a > 0x7F800000 ? Float.NaN : Float.intBitsToFloat(a);
            } else {
                for (; i + L <= end; i += L) {
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);

                    IntVector bc0 = y0.reinterpretAsInts();
                    IntVector mc0 = bc0.and(0x7FFFFFFF);
                    IntVector smallc0 = mc0.reinterpretAsFloats().add(0x1p22f).reinterpretAsInts().sub(0x4A800000).min(2);
                    IntVector bigc0 = mc0.add(mc0.lanewise(VectorOperators.LSHR, 22).and(1)).add(0x1FFFFF)
                            .lanewise(VectorOperators.LSHR, 22).sub(252).min(7);
                    IntVector c0 = bigc0.max(smallc0).or(bc0.lanewise(VectorOperators.LSHR, 28).and(8));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
            }
            if (i < end) {
                QuantKernels.encodeScalarConstant(x, xOff + i, end - i, m, rounding, dst, index + i);
                i = end;
            }
        }
    }

    static void encodeBlocksHalfUpVector(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff,
            Rounding rounding, byte[] dst, int index, float[] next, int nextOff, float[] nextAmax, int naOff) {

        // One block per outer iteration (blockCols is a multiple of L or the whole row), so no
        // vector lives across blocks or past the loops: nothing is boxed.
        int blocks = (n + blockCols - 1) / blockCols;
        int i = 0;
        for (int j = 0; j < blocks; j++) {
            int end = Math.min(n, (j + 1) * blockCols);
            float m = blockMul[bmOff + j];
            if (next != null) {
                IntVector acc = IntVector.zero(I);
                for (; i + L <= end; i += L) {
                    acc = acc.max(FloatVector.fromArray(F, next, nextOff + i).reinterpretAsInts().and(0x7FFFFFFF));
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);

                    IntVector c0 = IntVector.zero(I);
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 2.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -2.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 3.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -3.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -5f).cast(I));
                    c0 = c0.lanewise(VectorOperators.OR, 8, y0.compare(VectorOperators.LT, -0.25f).cast(I));
                    c0 = c0.blend(7, y0.test(VectorOperators.IS_NAN).cast(I));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
                int a = acc.reduceLanes(VectorOperators.MAX);
                for (int t = i; t < end; t++) {
                    a = Math.max(a, Float.floatToRawIntBits(next[nextOff + t]) & 0x7FFFFFFF);
                }
                nextAmax[naOff + j] = a > 0x7F800000 ? Float.NaN : Float.intBitsToFloat(a);
            } else {
                for (; i + L <= end; i += L) {
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);

                    IntVector c0 = IntVector.zero(I);
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 0.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -0.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.25f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 1.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -1.75f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 2.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -2.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 3.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -3.5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.GE, 5f).cast(I));
                    c0 = c0.add(1, y0.compare(VectorOperators.LT, -5f).cast(I));
                    c0 = c0.lanewise(VectorOperators.OR, 8, y0.compare(VectorOperators.LT, -0.25f).cast(I));
                    c0 = c0.blend(7, y0.test(VectorOperators.IS_NAN).cast(I));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
            }
            if (i < end) {
                QuantKernels.encodeScalarConstant(x, xOff + i, end - i, m, rounding, dst, index + i);
                i = end;
            }
        }
    }

    static void encodeBlocksStochasticVector(float[] x, int xOff, int n, int blockCols, float[] blockMul, int bmOff,
            Rounding rounding, byte[] dst, int index, float[] next, int nextOff, float[] nextAmax, int naOff) {
        int k0 = rounding.key0();
        int k1 = rounding.key1();
        IntVector iota = IntVector.fromArray(I, IOTA, 0);
        // One block per outer iteration (blockCols is a multiple of L or the whole row), so no
        // vector lives across blocks or past the loops: nothing is boxed.
        int blocks = (n + blockCols - 1) / blockCols;
        int i = 0;
        for (int j = 0; j < blocks; j++) {
            int end = Math.min(n, (j + 1) * blockCols);
            float m = blockMul[bmOff + j];
            if (next != null) {
                IntVector acc = IntVector.zero(I);
                for (; i + L <= end; i += L) {
                    acc = acc.max(FloatVector.fromArray(F, next, nextOff + i).reinterpretAsInts().and(0x7FFFFFFF));
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);
                    IntVector idx0 = iota.add(index + i);
                    IntVector hc0 = idx0.mul(0x9E3779B9).lanewise(VectorOperators.XOR, k0);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).lanewise(VectorOperators.XOR, k1);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16));
                    FloatVector uc0 = ((FloatVector) hc0.lanewise(VectorOperators.LSHR, 8).convert(VectorOperators.I2F, 0)).mul(0x1p-24f);
                    FloatVector ac0 = y0.abs();
                    ac0 = ac0.blend(Float.POSITIVE_INFINITY, ac0.test(VectorOperators.IS_NAN));
                    IntVector c0 = y0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 28).and(8);
                    FloatVector loc0 = FloatVector.zero(F);
                    FloatVector invc0 = FloatVector.broadcast(F, 2f);
                    VectorMask<Float> gc0;
                    gc0 = ac0.compare(VectorOperators.GE, 0.5f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(0.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 1f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(1f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 1.5f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(1.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 2f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(2f, gc0);
                    invc0 = invc0.blend(1f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 3f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(3f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 4f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(4f, gc0);
                    invc0 = invc0.blend(0.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 6f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(6f, gc0);
                    invc0 = invc0.blend(0f, gc0);
                    c0 = c0.add(1, uc0.compare(VectorOperators.LT, ac0.sub(loc0).mul(invc0)).cast(I));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
                int a = acc.reduceLanes(VectorOperators.MAX);
                for (int t = i; t < end; t++) {
                    a = Math.max(a, Float.floatToRawIntBits(next[nextOff + t]) & 0x7FFFFFFF);
                }
                nextAmax[naOff + j] = a > 0x7F800000 ? Float.NaN : Float.intBitsToFloat(a);
            } else {
                for (; i + L <= end; i += L) {
                    FloatVector y0 = FloatVector.fromArray(F, x, xOff + i).mul(m);
                    IntVector idx0 = iota.add(index + i);
                    IntVector hc0 = idx0.mul(0x9E3779B9).lanewise(VectorOperators.XOR, k0);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).lanewise(VectorOperators.XOR, k1);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16)).mul(0x7FEB352D);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 15)).mul(0x846CA68B);
                    hc0 = hc0.lanewise(VectorOperators.XOR, hc0.lanewise(VectorOperators.LSHR, 16));
                    FloatVector uc0 = ((FloatVector) hc0.lanewise(VectorOperators.LSHR, 8).convert(VectorOperators.I2F, 0)).mul(0x1p-24f);
                    FloatVector ac0 = y0.abs();
                    ac0 = ac0.blend(Float.POSITIVE_INFINITY, ac0.test(VectorOperators.IS_NAN));
                    IntVector c0 = y0.reinterpretAsInts().lanewise(VectorOperators.LSHR, 28).and(8);
                    FloatVector loc0 = FloatVector.zero(F);
                    FloatVector invc0 = FloatVector.broadcast(F, 2f);
                    VectorMask<Float> gc0;
                    gc0 = ac0.compare(VectorOperators.GE, 0.5f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(0.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 1f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(1f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 1.5f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(1.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 2f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(2f, gc0);
                    invc0 = invc0.blend(1f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 3f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(3f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 4f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(4f, gc0);
                    invc0 = invc0.blend(0.5f, gc0);
                    gc0 = ac0.compare(VectorOperators.GE, 6f);
                    c0 = c0.add(1, gc0.cast(I));
                    loc0 = loc0.blend(6f, gc0);
                    invc0 = invc0.blend(0f, gc0);
                    c0 = c0.add(1, uc0.compare(VectorOperators.LT, ac0.sub(loc0).mul(invc0)).cast(I));
                    LongVector pair = c0.reinterpretAsLongs();
                    ByteVector b = (ByteVector) pair.or(pair.lanewise(VectorOperators.LSHR, 28))
                            .convertShape(VectorOperators.L2B, PACK, 0);
                    if (PACK_EXACT) {
                        b.intoArray(dst, (index + i) >>> 1);
                    } else {
                        b.intoArray(dst, (index + i) >>> 1, PACK.indexInRange(0, L / 2));
                    }
                }
            }
            if (i < end) {
                QuantKernels.encodeScalarConstant(x, xOff + i, end - i, m, rounding, dst, index + i);
                i = end;
            }
        }
    }
}
