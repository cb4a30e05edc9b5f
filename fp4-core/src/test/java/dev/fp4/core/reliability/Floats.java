package dev.fp4.core.reliability;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Seeded generators of FP32 values and matrices for property tests, weighted toward the values that
 * break number-format code: ±0, subnormals, the smallest normal, E2M1 grid points and the midpoints
 * between them (ties) at a power-of-two scale, ±6 and its neighbours, huge magnitudes, and, where
 * asked, NaN and ±∞.
 */
public final class Floats {

    /** The E2M1 magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6. */
    static final float[] GRID = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};

    /** The E2M1 rounding midpoints (ties). */
    static final float[] TIES = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5f};

    private Floats() {
    }

    /** A random sign. */
    static float signed(SplittableRandom r, float v) {
        return r.nextBoolean() ? v : -v;
    }

    /** A finite value from the adversarial mix (no NaN, no ∞). */
    public static float finite(SplittableRandom r) {
        return switch (r.nextInt(12)) {
            case 0 -> signed(r, 0f);
            case 1 -> signed(r, Float.intBitsToFloat(1 + r.nextInt(0x7FFFFF)));          // subnormal
            case 2 -> signed(r, Math.scalb(1f + r.nextInt(4) * 0x1p-23f, -126));        // around MIN_NORMAL
            case 3 -> signed(r, Math.scalb(GRID[r.nextInt(GRID.length)], r.nextInt(-20, 21)));
            case 4 -> signed(r, Math.scalb(TIES[r.nextInt(TIES.length)], r.nextInt(-20, 21)));
            case 5 -> signed(r, switch (r.nextInt(4)) {
                case 0 -> 6f;
                case 1 -> Math.nextUp(6f);
                case 2 -> Math.nextDown(6f);
                default -> 6f * Math.scalb(1f, r.nextInt(-8, 9));
            });
            case 6 -> signed(r, Float.intBitsToFloat(0x7F000000 + r.nextInt(0x7FFFFF)));   // huge (≥ 2^127)
            case 7 -> signed(r, Float.intBitsToFloat(r.nextInt(0x7F800000)));           // any finite bits
            default -> (float) (r.nextGaussian() * Math.scalb(1.0, r.nextInt(-12, 13)));
        };
    }

    /** NaN, +∞ or −∞. */
    public static float nonFinite(SplittableRandom r) {
        return switch (r.nextInt(3)) {
            case 0 -> Float.NaN;
            case 1 -> Float.POSITIVE_INFINITY;
            default -> Float.NEGATIVE_INFINITY;
        };
    }

    /** Any float: mostly {@link #finite}, one in {@code 1/nonFiniteOdds} non-finite. */
    public static float any(SplittableRandom r, int nonFiniteOdds) {
        return r.nextInt(nonFiniteOdds) == 0 ? nonFinite(r) : finite(r);
    }

    /**
     * A row-major [rows, cols] matrix whose rows each follow one of several shapes: the adversarial
     * mix; Gaussian at a random power-of-two scale; "lattice" rows of E2M1 grid points and ties at
     * one power-of-two scale with amax 6 or 4 at that scale (so that the quantizer's scaled values
     * land exactly on ties); all zeros; one outlier among small values.
     */
    public static float[] matrix(SplittableRandom r, int rows, int cols) {
        float[] x = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            row(r, x, i * cols, cols);
        }
        return x;
    }

    /** Fills {@code x[off, off+n)} with one row of a random shape (see {@link #matrix}). */
    public static void row(SplittableRandom r, float[] x, int off, int n) {
        int kind = r.nextInt(6);
        int e = r.nextInt(-30, 31);
        for (int j = 0; j < n; j++) {
            x[off + j] = switch (kind) {
                case 0 -> finite(r);
                case 1, 2 -> (float) (r.nextGaussian() * Math.scalb(1.0, e));
                case 3 -> signed(r, Math.scalb(r.nextBoolean() ? GRID[r.nextInt(GRID.length)] : TIES[r.nextInt(TIES.length)], e));
                case 4 -> 0f;
                default -> (float) (r.nextGaussian() * Math.scalb(1.0, e - 10));
            };
        }
        if (kind == 3 && n > 0) {
            x[off + r.nextInt(n)] = signed(r, Math.scalb(r.nextBoolean() ? 6f : 4f, e));
        } else if (kind == 5 && n > 0) {
            x[off + r.nextInt(n)] = (float) (r.nextGaussian() * Math.scalb(1.0, e + 6));
        }
    }

    /** A matrix case with its shape, printable for failure reports. */
    public record Matrix(int rows, int cols, float[] x) {
        @Override
        public String toString() {
            return "[" + rows + ", " + cols + "] " + (x.length <= 64 ? Arrays.toString(x) : Arrays.toString(Arrays.copyOf(x, 64)) + "...");
        }
    }

    /**
     * A random shape (rows 1..maxRows, cols 1..maxCols, half the time a multiple of 16 or 32, so
     * that full, partial and single blocks all occur) and a {@link #matrix} of it.
     */
    public static Matrix matrixCase(SplittableRandom r, int maxRows, int maxCols) {
        int rows = 1 + r.nextInt(maxRows);
        int cols = switch (r.nextInt(4)) {
            case 0 -> 16 * (1 + r.nextInt(Math.max(1, maxCols / 16)));
            case 1 -> 32 * (1 + r.nextInt(Math.max(1, maxCols / 32)));
            default -> 1 + r.nextInt(maxCols);
        };
        return new Matrix(rows, cols, matrix(r, rows, cols));
    }
}
