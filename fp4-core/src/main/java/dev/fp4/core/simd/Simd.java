package dev.fp4.core.simd;

/**
 * The one place where the library chooses how its kernels run (after Lucene's
 * {@code VectorizationProvider}): with the JDK's incubating Vector API, through the
 * {@code ...Panama} classes beside each kernel family, or with the scalar kernels they are held
 * equal to bit for bit. This class itself names no Vector API type, so the library loads and runs
 * without {@code jdk.incubator.vector}.
 *
 * <p>The Vector API is used when the module {@code jdk.incubator.vector} is in the boot layer (the
 * JVM was started with {@code --add-modules jdk.incubator.vector}) and the system property
 * {@code fp4.vector.bits} does not say {@code 0}. The width is the platform's preferred one unless
 * the property names another: {@code 512}, {@code 256} or {@code 128} (a width above the
 * hardware's is clamped to it). Without the module the kernels run scalar, with the same results,
 * and one warning says how to enable the vector kernels. Kernels read {@link #ENABLED} as a static
 * final, so the JIT folds the choice away; the property must be set before this class is
 * initialised (on the command line).
 */
public final class Simd {

    /** Name of the system property that overrides the vector width in bits. */
    public static final String PROPERTY = "fp4.vector.bits";

    /** Name of the module that holds the Vector API. */
    public static final String MODULE = "jdk.incubator.vector";

    /** Vector width in bits actually used; 0 when kernels run their scalar twins. */
    public static final int BITS;

    /** {@code true} when kernels use the Vector API; {@code false} for the scalar twins. */
    public static final boolean ENABLED;

    /** Float lanes of a vector of {@link #BITS} bits (0 when scalar). */
    public static final int FLOAT_LANES;

    /** Whether the Vector API module is in the boot layer. */
    public static final boolean MODULE_PRESENT = ModuleLayer.boot().findModule(MODULE).isPresent();

    static {
        int bits = -1;
        String requested = System.getProperty(PROPERTY);
        if (requested != null && !requested.isBlank()) {
            try {
                bits = Integer.parseInt(requested.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(PROPERTY + " must be one of 512, 256, 128, 0; got '" + requested + "'", e);
            }
            if (bits != 0 && bits != 128 && bits != 256 && bits != 512) {
                throw new IllegalArgumentException(PROPERTY + " must be one of 512, 256, 128, 0; got " + bits);
            }
        }
        if (!MODULE_PRESENT) {
            if (bits != 0) {
                System.getLogger(Simd.class.getName()).log(System.Logger.Level.WARNING, "the Vector API module " + MODULE
                        + " is not enabled: fp4 runs its scalar kernels (the same results, slower); start the JVM with "
                        + "--add-modules " + MODULE + " for the vector kernels");
            }
            bits = 0;
        } else {
            int preferred = PanamaProbe.preferredBits();
            bits = bits < 0 ? preferred : Math.min(bits, preferred);
        }
        // Fewer than 4 float lanes buys nothing over scalar code.
        if (bits < 128) {
            bits = 0;
        }
        BITS = bits;
        ENABLED = bits != 0;
        FLOAT_LANES = bits / 32;
    }

    private Simd() {
    }

    /** A one-line description, for logs and benchmark headers. */
    public static String describe() {
        return ENABLED ? "Vector API, " + BITS + "-bit (" + FLOAT_LANES + " float lanes)"
                : MODULE_PRESENT ? "scalar" : "scalar (" + MODULE + " not enabled)";
    }
}
