package dev.fp4.nn;

import java.util.Objects;

/**
 * Argument checks shared by the layers, run before anything is written so that a rejected call
 * leaves its outputs and the parameters' gradients unchanged. Messages start with the owner (the
 * layer's parameter name) and give the expected shape and the actual length.
 */
final class Checks {
    private Checks() {
    }

    /** {@code a} is non-null and holds at least rows·cols elements. */
    static void holds(String owner, String what, float[] a, long rows, long cols) {
        Objects.requireNonNull(a, what);
        long need = rows * cols;
        if (a.length < need) {
            throw new IllegalArgumentException(owner + ": " + what + " must hold [" + rows + ", " + cols + "] = " + need
                    + " elements, has " + a.length);
        }
    }

    /**
     * The arguments of a public backward: a forward came before ({@code rows} > 0), and dy and dx
     * hold [rows, dim].
     *
     * @throws IllegalStateException when no forward came before
     */
    static void backward(String owner, int rows, int dim, float[] dy, float[] dx) {
        if (rows <= 0) {
            throw new IllegalStateException(owner + ": backward without a forward");
        }
        holds(owner, "dy", dy, rows, dim);
        holds(owner, "dx", dx, rows, dim);
    }

    /** rows > 0. */
    static void positiveRows(String owner, int rows) {
        if (rows <= 0) {
            throw new IllegalArgumentException(owner + ": rows must be positive, got " + rows);
        }
    }

    /** [off, off + len) lies inside {@code a}. */
    static void range(String owner, String what, float[] a, int off, int len) {
        Objects.requireNonNull(a, what);
        if (off < 0 || len < 0 || off > a.length - len) {
            throw new IllegalArgumentException(owner + ": " + what + " range [" + off + ", " + ((long) off + len)
                    + ") is out of bounds for length " + a.length);
        }
    }

    /** ids[0, count) are in [0, bound); ids holds count elements. */
    static void ids(String owner, String what, int[] ids, int count, int bound) {
        Objects.requireNonNull(ids, what);
        if (count < 0 || count > ids.length) {
            throw new IllegalArgumentException(owner + ": count " + count + " is not in [0, " + ids.length + "]: " + what
                    + " has " + ids.length + " elements");
        }
        for (int i = 0; i < count; i++) {
            if (ids[i] < 0 || ids[i] >= bound) {
                throw new IllegalArgumentException(owner + ": " + what + "[" + i + "] = " + ids[i] + " is outside [0, " + bound + ")");
            }
        }
    }
}
