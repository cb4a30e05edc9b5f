package dev.fp4.core.simd;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one place where the library chooses its vector width (after Lucene's
 * {@code PanamaVectorUtilSupport}).
 *
 * <p>The width is the platform's preferred one unless the system property {@code fp4.vector.bits}
 * names another: {@code 512}, {@code 256}, {@code 128}, or {@code 0} for fully scalar code. A width
 * larger than the hardware's preferred width is clamped to it. Kernels read {@link #ENABLED} and the
 * species below as static finals, so the JIT folds the choice away; the property must therefore be
 * set before this class is initialised (on the command line). Tests run every kernel at each width.
 */
public final class Simd {

    /** Name of the system property that overrides the vector width in bits. */
    public static final String PROPERTY = "fp4.vector.bits";

    /** Vector width in bits actually used; 0 when kernels run their scalar reference. */
    public static final int BITS;

    /** {@code true} when kernels use the Vector API; {@code false} for the scalar reference. */
    public static final boolean ENABLED;

    /** Float species of {@link #BITS} width (the preferred species when scalar, unused then). */
    public static final VectorSpecies<Float> FLOAT;

    /** Int species of the same width as {@link #FLOAT}. */
    public static final VectorSpecies<Integer> INT;

    /** Short species of the same width as {@link #FLOAT}. */
    public static final VectorSpecies<Short> SHORT;

    /** Byte species of the same width as {@link #FLOAT}. */
    public static final VectorSpecies<Byte> BYTE;

    static {
        int preferred = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        int bits = preferred;
        String requested = System.getProperty(PROPERTY);
        if (requested != null && !requested.isBlank()) {
            try {
                bits = Integer.parseInt(requested.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        PROPERTY + " must be one of 512, 256, 128, 0; got '" + requested + "'", e);
            }
            if (bits != 0 && bits != 128 && bits != 256 && bits != 512) {
                throw new IllegalArgumentException(
                        PROPERTY + " must be one of 512, 256, 128, 0; got " + bits);
            }
            bits = Math.min(bits, preferred);
        }
        // Fewer than 4 float lanes buys nothing over scalar code.
        if (bits < 128) {
            bits = 0;
        }
        BITS = bits;
        ENABLED = bits != 0;
        VectorShape shape = ENABLED ? VectorShape.forBitSize(bits) : VectorShape.preferredShape();
        FLOAT = FloatVector.SPECIES_PREFERRED.withShape(shape);
        INT = IntVector.SPECIES_PREFERRED.withShape(shape);
        SHORT = ShortVector.SPECIES_PREFERRED.withShape(shape);
        BYTE = ByteVector.SPECIES_PREFERRED.withShape(shape);
    }

    private Simd() {
    }

    /** A one-line description, for logs and benchmark headers. */
    public static String describe() {
        return ENABLED ? "Vector API, " + BITS + "-bit (" + FLOAT.length() + " float lanes)" : "scalar";
    }
}
