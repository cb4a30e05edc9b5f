package dev.fp4.nn.recipe;

import dev.fp4.core.quant.Fp4Tensor;

/**
 * A worker that fake-quantizes GeMM operands of one {@link OperandFormat}: values are rounded to
 * the format (with its scales) and written back as FP32. Quantizers keep reusable buffers, so each
 * linear layer owns its own; they are not thread-safe.
 *
 * <p>Operands are always presented in the GeMM-compatible layout [rows, cols] with the reduction
 * dimension along {@code cols}: per-row and 1×b block scales then never straddle the reduction.
 */
public interface Quantizer {
    /**
     * dst[rows, cols] = Q(src[rows, cols]) (dst may equal src at the same offset).
     *
     * @param stream distinguishes calls for stochastic rounding (deterministic for a given seed
     *               and stream); ignored by deterministic formats
     */
    void quantize(float[] src, int srcOff, int rows, int cols, float[] dst, int dstOff, long stream);

    /**
     * For formats that hold their operand as an {@link Fp4Tensor}: quantizes as {@link #quantize}
     * does but writes no FP32 output, and returns the packed operand (this quantizer's, valid until
     * its next call; {@link #replay} writes its FP32 values). A layer multiplies it with
     * {@code Fp4Gemm} instead of multiplying the dequantized copy.
     *
     * @return null for formats that are not packed FP4 (nothing is quantized then)
     */
    default Fp4Tensor quantizePacked(float[] src, int srcOff, int rows, int cols, long stream) {
        return null;
    }

    /**
     * For formats with E2M1 elements: writes the values the element rounding saw in the last
     * {@link #quantize} call, x = src / (block scale · tensor scale), for gradient estimators.
     *
     * @throws UnsupportedOperationException for formats without E2M1 elements
     */
    default void scaledValues(float[] src, int srcOff, float[] dst, int dstOff) {
        throw new UnsupportedOperationException("this format has no E2M1 elements to estimate gradients for");
    }

    /**
     * Sets {@code deriv[i] = 1} for the elements i of [off, off + len) (flat row-major over the last
     * quantized operand) whose block scale is 0. Such a block dequantizes to 0 whatever its values
     * (NVFP4 rounds a block amax below the E4M3 range to a scale of 0; Transformer Engine's
     * reference stores and dequantizes it the same way), so a gradient estimator has no rounding
     * to model there and passes the straight-through estimator's derivative, 1, instead of a value
     * computed from a division by zero. Formats whose scales cannot be 0 do nothing.
     */
    default void straightThroughOnZeroScale(float[] deriv, int off, int len) {
    }

    /**
     * Whether {@link #replay} can write the last {@link #quantize} call's output again from what
     * the quantizer keeps (its packed codes and scales), so that a layer need not keep an FP32 copy
     * of it between forward and backward.
     */
    default boolean replays() {
        return false;
    }

    /**
     * Writes the output of the last {@link #quantize} call again into dst (the same bits).
     *
     * @throws UnsupportedOperationException when {@link #replays()} is false
     */
    default void replay(float[] dst, int dstOff) {
        throw new UnsupportedOperationException("this format keeps no packed copy of its last operand");
    }
}
