package dev.fp4.core.reliability;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * A minimal property runner for JUnit 5 (no external property-testing library): runs a check over
 * {@code tries} cases drawn from a generator, each case from its own seed derived from the
 * property's seed and the try index, so any failing case can be re-run alone with
 * {@link #replay}. Nothing is shrunk; a failure reports the property, the try, both seeds and the
 * case's {@code toString()}, with the original failure as the cause.
 *
 * <p>Every run adds its tries to a process-wide tally ({@link #tally()}) and prints one line
 * {@code PROPERTY <name> tries=<n>} so that the build log gives the properties × tries counts
 * quoted in docs/reliability.md.
 */
public final class Property {

    /** Generates one case from a random source. */
    @FunctionalInterface
    public interface Gen<T> {
        T next(SplittableRandom random);
    }

    /** Checks one case; throws (an assertion error or anything else) when the property fails. */
    @FunctionalInterface
    public interface Check<T> {
        void check(T value) throws Exception;
    }

    private static final Map<String, Integer> TALLY = new ConcurrentSkipListMap<>();

    private Property() {
    }

    /** The seed of try {@code i} of a property with seed {@code seed} (SplitMix64 of both). */
    public static long caseSeed(long seed, int i) {
        long z = seed * 0x9E3779B97F4A7C15L + (i + 1) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * Runs {@code check} on {@code tries} generated cases.
     *
     * @return the number of tries run (all of them when it returns)
     * @throws AssertionError naming the property, the try, the seeds and the case on the first failure
     */
    public static <T> int forAll(String name, long seed, int tries, Gen<T> gen, Check<T> check) {
        for (int i = 0; i < tries; i++) {
            long cs = caseSeed(seed, i);
            T value = gen.next(new SplittableRandom(cs));
            try {
                check.check(value);
            } catch (Throwable t) {
                throw new AssertionError("property '" + name + "' failed at try " + i + " of " + tries + " (seed " + seed
                        + ", case seed " + cs + "; replay with Property.replay): case " + describe(value) + ": " + t, t);
            }
        }
        TALLY.merge(name, tries, Integer::sum);
        System.out.println("PROPERTY " + name + " tries=" + tries);
        return tries;
    }

    /** Re-runs the single case of a reported case seed. */
    public static <T> void replay(long caseSeed, Gen<T> gen, Check<T> check) throws Exception {
        check.check(gen.next(new SplittableRandom(caseSeed)));
    }

    /** Tries run so far in this JVM, by property name. */
    public static Map<String, Integer> tally() {
        return Map.copyOf(TALLY);
    }

    private static String describe(Object value) {
        String s = String.valueOf(value);
        return s.length() > 2000 ? s.substring(0, 2000) + "... (" + s.length() + " chars)" : s;
    }
}
