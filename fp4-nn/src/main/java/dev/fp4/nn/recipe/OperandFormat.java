package dev.fp4.nn.recipe;

/**
 * How one operand of a GeMM is represented: FP32 (as is), or fake-quantized to a lower precision
 * (BF16, FP8, FP4 with a scaling scheme). Immutable; {@link #newQuantizer()} creates the worker a
 * layer uses.
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

    /** A short name, e.g. {@code fp32}, {@code bf16}, {@code e4m3}, {@code fp4-per-row}. */
    String name();

    /** Whether the operand is left unchanged (layers then skip the copy). */
    default boolean isIdentity() {
        return false;
    }

    /** Whether the elements are E2M1, so a weight-gradient estimator (STE, DGE) applies. */
    default boolean hasE2M1Elements() {
        return false;
    }

    /** A new worker with its own buffers. */
    Quantizer newQuantizer();
}
