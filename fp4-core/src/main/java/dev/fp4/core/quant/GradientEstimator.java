package dev.fp4.core.quant;

import java.util.Objects;

/**
 * How the backward pass differentiates through the FP4 weight quantizer Ŵ = Q(W·sf)/sf.
 *
 * <p>Hard rounding has derivative zero almost everywhere, so training uses an estimator f'(x) of the
 * quantizer's derivative, evaluated on the <em>scaled</em> weight x = w·sf (sf is the quantizer's
 * multiplier: x is the value that gets rounded to E2M1). The weight gradient is then
 * dL/dW = dL/dŴ ⊙ f'(W·sf) (the 1/sf of the dequantization and the sf of the scaling cancel).
 *
 * <p>Implementations: {@link DifferentiableGradientEstimator} (Wang et al. 2025) and
 * {@link StraightThroughEstimator}. Both are immutable and thread-safe.
 *
 * <p>All bulk methods reject a non-finite scaled weight with an {@link IllegalArgumentException}
 * naming its index, before writing anything, and accept {@code out == grad} with equal offsets
 * (in place). Gradients themselves are not checked: a NaN gradient stays NaN.
 */
public interface GradientEstimator {

    /** The estimated derivative of the E2M1 quantizer at the scaled value {@code x}. */
    float derivative(float x);

    /**
     * In place: {@code grad[gOff+i] *= f'(scaledWeights[wOff+i])} for i in [0, len).
     */
    default void applyTo(float[] grad, int gOff, float[] scaledWeights, int wOff, int len) {
        applyTo(grad, gOff, scaledWeights, wOff, grad, gOff, len);
    }

    /**
     * Out of place: {@code out[outOff+i] = grad[gOff+i] · f'(scaledWeights[wOff+i])} for i in [0, len).
     */
    default void applyTo(float[] grad, int gOff, float[] scaledWeights, int wOff,
                         float[] out, int outOff, int len) {
        checkRange(grad, gOff, len, "grad");
        checkRange(scaledWeights, wOff, len, "scaledWeights");
        checkRange(out, outOff, len, "out");
        for (int i = 0; i < len; i++) {
            if (!Float.isFinite(scaledWeights[wOff + i])) {
                throw new NonFiniteValueException("scaled weight " + i + " (array index " + (wOff + i)
                        + ") is " + scaledWeights[wOff + i] + "; the estimator needs finite values");
            }
        }
        for (int i = 0; i < len; i++) {
            out[outOff + i] = grad[gOff + i] * derivative(scaledWeights[wOff + i]);
        }
    }

    /**
     * In place, one scale for the whole tensor: {@code grad[gOff+i] *= f'(weights[wOff+i]·sf)}.
     *
     * @param sf the quantizer's multiplier (the value rounded is {@code w·sf}), not its reciprocal
     */
    default void applyToScaled(float[] grad, int gOff, float[] weights, int wOff, float sf, int len) {
        checkRange(grad, gOff, len, "grad");
        checkRange(weights, wOff, len, "weights");
        checkScale(sf, "sf", 0);
        for (int i = 0; i < len; i++) {
            checkScaled(weights[wOff + i] * sf, weights[wOff + i], sf, i, len, 1);
        }
        for (int i = 0; i < len; i++) {
            grad[gOff + i] *= derivative(weights[wOff + i] * sf);
        }
    }

    /**
     * In place for a row-major [rows, cols] weight matrix with one scale per row (per output channel
     * for W laid out [out, in]): {@code grad[r,c] *= f'(w[r,c]·rowSf[r])}.
     */
    default void applyToRowScaled(float[] grad, int gOff, float[] weights, int wOff,
                                  float[] rowSf, int sOff, int rows, int cols) {
        int len = checkMatrix(grad, gOff, weights, wOff, rows, cols);
        checkRange(rowSf, sOff, rows, "rowSf");
        for (int r = 0; r < rows; r++) {
            float sf = rowSf[sOff + r];
            checkScale(sf, "rowSf", r);
            for (int c = 0; c < cols; c++) {
                float w = weights[wOff + r * cols + c];
                checkScaled(w * sf, w, sf, r * cols + c, len, cols);
            }
        }
        for (int r = 0; r < rows; r++) {
            float sf = rowSf[sOff + r];
            int g = gOff + r * cols;
            int w = wOff + r * cols;
            for (int c = 0; c < cols; c++) {
                grad[g + c] *= derivative(weights[w + c] * sf);
            }
        }
    }

    /**
     * In place for a row-major [rows, cols] weight matrix with one scale per column (the official
     * implementation's "channel-wise" weights: amax over dim 0 of W [out, in]):
     * {@code grad[r,c] *= f'(w[r,c]·colSf[c])}.
     */
    default void applyToColumnScaled(float[] grad, int gOff, float[] weights, int wOff,
                                     float[] colSf, int sOff, int rows, int cols) {
        int len = checkMatrix(grad, gOff, weights, wOff, rows, cols);
        checkRange(colSf, sOff, cols, "colSf");
        for (int c = 0; c < cols; c++) {
            checkScale(colSf[sOff + c], "colSf", c);
        }
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                float w = weights[wOff + r * cols + c];
                checkScaled(w * colSf[sOff + c], w, colSf[sOff + c], r * cols + c, len, cols);
            }
        }
        for (int r = 0; r < rows; r++) {
            int g = gOff + r * cols;
            int w = wOff + r * cols;
            for (int c = 0; c < cols; c++) {
                grad[g + c] *= derivative(weights[w + c] * colSf[sOff + c]);
            }
        }
    }

    private static void checkRange(float[] a, int off, long len, String name) {
        Objects.requireNonNull(a, name);
        if (len < 0 || off < 0 || off + len > a.length) {
            throw new IllegalArgumentException(name + ": range [" + off + ", " + off + "+" + len
                    + ") does not fit an array of length " + a.length);
        }
    }

    private static int checkMatrix(float[] grad, int gOff, float[] weights, int wOff, int rows, int cols) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        }
        long len = (long) rows * cols;
        Objects.requireNonNull(grad, "grad");
        Objects.requireNonNull(weights, "weights");
        if (gOff < 0 || gOff + len > grad.length || wOff < 0 || wOff + len > weights.length) {
            throw new IllegalArgumentException("[" + rows + ", " + cols + "] needs " + len + " elements: grad from "
                    + gOff + " has " + grad.length + ", weights from " + wOff + " has " + weights.length);
        }
        return (int) len;
    }

    private static void checkScale(float sf, String name, int index) {
        if (!Float.isFinite(sf)) {
            throw new NonFiniteValueException(name + "[" + index + "] is " + sf + "; scales must be finite");
        }
    }

    private static void checkScaled(float scaled, float w, float sf, int i, int len, int cols) {
        if (!Float.isFinite(scaled)) {
            String where = cols == 1 ? "element " + i : "element [" + (i / cols) + ", " + (i % cols) + "]";
            throw new NonFiniteValueException("scaled weight at " + where + " = " + w + " * " + sf + " is "
                    + scaled + "; the estimator needs finite values (of " + len + ")");
        }
    }
}
