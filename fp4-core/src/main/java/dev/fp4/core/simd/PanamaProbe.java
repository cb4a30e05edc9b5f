package dev.fp4.core.simd;

import jdk.incubator.vector.FloatVector;

/**
 * Asks the Vector API for the platform's preferred width. Separate from {@link dev.fp4.core.simd.panama.PanamaSimd} so that
 * {@link Simd}'s initialisation can ask before the species (which depend on its answer) exist.
 */
final class PanamaProbe {
    private PanamaProbe() {
    }

    /** The platform's preferred vector width in bits. */
    static int preferredBits() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }
}
