package dev.fp4.core.quant;

import java.util.SplittableRandom;

/** Seeded data sets for the clamp and selection tests. */
final class ClampData {

    private ClampData() {
    }

    /** The data-set kinds. */
    static final String[] KINDS = {"gaussian", "duplicates", "signedZeros", "constant", "heavyTailed",
        "ascending", "descending", "organPipe", "subnormals"};

    /**
     * Further kinds for the band pass: activations with outlier channels, data made against its
     * sample (every sampled position of {@link OutlierClamp#samplePosition} holds a huge value, so the
     * sample says nothing about the lower quantile and its band misses), half exact zeros, and
     * Gaussian values rounded to BF16 (ties of hundreds of values at n = 1 M).
     */
    static final String[] BAND_KINDS = {"outlierChannels", "sampleAdversarial", "reluLike", "bf16Gaussian"};

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
                // Every 64th channel 20x larger, as transformer activations have.
                case "outlierChannels" -> (float) r.nextGaussian() * (i % 64 == 5 ? 20f : 1f);
                case "sampleAdversarial" -> (float) r.nextGaussian(); // then the sample positions, below
                // Half exact zeros: the lower quantile sits in a huge tie.
                case "reluLike" -> Math.max(0f, (float) r.nextGaussian());
                // Gaussian rounded to BF16: ties of hundreds of elements around the quantiles.
                case "bf16Gaussian" -> Float.intBitsToFloat(Float.floatToRawIntBits((float) r.nextGaussian()) & 0xFFFF0000);
                default -> throw new IllegalArgumentException(kind);
            };
        }
        if (kind.equals("sampleAdversarial") && n >= 8) {
            int size = OutlierClamp.sampleSize(n);
            for (int i = 0; i < size; i++) {
                x[OutlierClamp.samplePosition(n, size, i)] = 1e6f + i;
            }
        }
        return x;
    }
}
