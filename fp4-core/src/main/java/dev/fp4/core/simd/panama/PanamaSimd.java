package dev.fp4.core.simd.panama;

import dev.fp4.core.simd.Simd;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species of {@link Simd#BITS}, for the {@code ...Panama} kernel classes: loaded only
 * when {@link Simd#ENABLED}, since it names Vector API types. Not part of the API: its package is
 * exported to the library's own modules only.
 */
public final class PanamaSimd {
    private static final VectorShape SHAPE = Simd.ENABLED ? VectorShape.forBitSize(Simd.BITS) : VectorShape.preferredShape();

    /** Float species of {@link Simd#BITS} width. */
    public static final VectorSpecies<Float> FLOAT = FloatVector.SPECIES_PREFERRED.withShape(SHAPE);

    /** Int species of the same width. */
    public static final VectorSpecies<Integer> INT = IntVector.SPECIES_PREFERRED.withShape(SHAPE);

    /** Short species of the same width. */
    public static final VectorSpecies<Short> SHORT = ShortVector.SPECIES_PREFERRED.withShape(SHAPE);

    /** Byte species of the same width. */
    public static final VectorSpecies<Byte> BYTE = ByteVector.SPECIES_PREFERRED.withShape(SHAPE);

    private PanamaSimd() {
    }
}
