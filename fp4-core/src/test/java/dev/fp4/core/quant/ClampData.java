package dev.fp4.core.quant;

import java.util.SplittableRandom;

/** Seeded data sets for the clamp and selection tests. */
final class ClampData {

    private ClampData() {
    }

    /** The data-set kinds. */
    static final String[] KINDS = {"gaussian", "duplicates", "signedZeros", "constant", "heavyTailed",
        "ascending", "descending", "organPipe", "subnormals"};

    static float[] make(String kind, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = switch (kind) {
                case "gaussian" -> (float) r.nextGaussian();
                // Few distinct values, including both zeros: many ties at the quantiles.
                case "duplicates" -> new float[] {-2f, -1f, -0f, 0f, 0f, 1f, 3f}[r.nextInt(7)];
                case "signedZeros" -> r.nextBoolean() ? -0f : 0f;
                case "constant" -> 0.75f;
                // Cauchy: quantiles far out in the tails, values spanning many binades.
                case "heavyTailed" -> (float) Math.tan(Math.PI * (r.nextDouble() - 0.5));
                case "ascending" -> i - n / 3f;
                case "descending" -> n - i;
                case "organPipe" -> Math.min(i, n - 1 - i);
                case "subnormals" -> Float.MIN_VALUE * (r.nextInt(201) - 100);
                default -> throw new IllegalArgumentException(kind);
            };
        }
        return x;
    }
}
