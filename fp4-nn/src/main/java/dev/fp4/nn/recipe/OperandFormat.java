package dev.fp4.nn.recipe;

import dev.fp4.core.quant.Fp4Scheme;

/**
 * How one operand of a GeMM is represented: FP32 (as is), or fake-quantized to a lower precision
 * and written back as FP32 (BF16, FP8 with a per-tensor scale, FP4 under an {@link Fp4Scheme}).
 * Immutable values with {@code equals}; {@link #newQuantizer()} creates the worker a layer uses.
 *
 * <p>Operands reach the quantizer in the GeMM-compatible layout [rows, K] (K the reduction
 * dimension along the columns), so a per-row or 1×b block scheme never puts one scale across
 * several reduction indices' rows: activations are scaled per token, weights per output channel in
 * the forward GeMM (see {@link GemmPrecision}).
 *
 * <table>
 *   <caption>Formats</caption>
 *   <tr><th>format</th><th>values</th><th>scale</th></tr>
 *   <tr><td>{@link #FP32}</td><td>unchanged</td><td>none</td></tr>
 *   <tr><td>{@link #BF16}</td><td>nearest-even BF16 ({@code BF16.roundInPlace})</td><td>none</td></tr>
 *   <tr><td>{@link #E4M3}, {@link #E5M2}</td><td>nearest-even FP8, saturating</td>
 *       <td>one power of two per operand, the largest with amax·sf ≤ 448 (57344)</td></tr>
 *   <tr><td>{@link #fp4(Fp4Scheme)}</td><td>E2M1 with the scheme's rounding (RNE, HALF_UP or SR)</td>
 *       <td>the scheme's blocks and scale rule</td></tr>
 * </table>
 */
public interface OperandFormat {
    /** FP32: the operand is used as it is. */
    OperandFormat FP32 = new OperandFormat() {
        @Override
        public String name() {
            return "fp32";
        }

        @Override
        public boolean isIdentity() {
            return true;
        }

        @Override
        public boolean isLayoutFree() {
            return true;
        }

        @Override
        public Quantizer newQuantizer() {
            return (src, srcOff, rows, cols, dst, dstOff, stream) -> {
                if (src != dst || srcOff != dstOff) {
                    System.arraycopy(src, srcOff, dst, dstOff, rows * cols);
                }
            };
        }

        @Override
        public String toString() {
            return name();
        }
    };

    /** BF16: each element rounded to the nearest BF16 (ties to even); FP32 accumulation in the GeMM. */
    OperandFormat BF16 = Bf16Operand.INSTANCE;

    /** FP8 E4M3 (max 448) with one power-of-two scale per operand. */
    OperandFormat E4M3 = Fp8Operand.E4M3;

    /** FP8 E5M2 (max 57344) with one power-of-two scale per operand. */
    OperandFormat E5M2 = Fp8Operand.E5M2;

    /** FP4 (E2M1) under {@code scheme}: its blocks, scale rule and rounding (stochastic included). */
    static OperandFormat fp4(Fp4Scheme scheme) {
        return new Fp4Operand(scheme);
    }

    /** A short name, e.g. {@code fp32}, {@code bf16}, {@code e4m3}, {@code fp4(perRow(POWER_OF_TWO, RNE))}. */
    String name();

    /** Whether the operand is left unchanged (layers then skip the copy). */
    default boolean isIdentity() {
        return false;
    }

    /**
     * Whether each element's quantized value depends only on the element and on quantities of the
     * whole operand (one scale per tensor), never on its row, column or flat index nor on the
     * rounding stream: then Q(Aᵀ) = Q(A)ᵀ bit for bit, a layer may quantize an operand in its
     * stored layout instead of transposing it first, and two quantizations of the same operand
     * agree. True for FP32, BF16 and the FP8 formats; false for FP4 (row and block scales,
     * stochastic rounding by flat index).
     */
    default boolean isLayoutFree() {
        return false;
    }

    /**
     * Whether the quantizer's result depends on its {@code stream} argument (stochastic rounding).
     * When it does not, two quantizations of the same operand agree bit for bit.
     */
    default boolean usesRoundingStream() {
        return false;
    }

    /**
     * Whether a value already quantized to this format, transposed, is already a quantization of
     * the transposed operand (square blocks, deterministic rounding), so a GeMM that needs Q(Aᵀ) of
     * an operand quantized as Q(A) reuses Q(A)ᵀ, as Transformer Engine does with the 16×16 NVFP4
     * weight: quantizing it again could move values by the tensor scale's rounding.
     */
    default boolean reusableTransposed() {
        return false;
    }

    /** Whether the elements are E2M1, so a weight-gradient estimator (STE, DGE) applies. */
    default boolean hasE2M1Elements() {
        return false;
    }

    /** A new worker with its own buffers. */
    Quantizer newQuantizer();
}
