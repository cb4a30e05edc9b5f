package dev.fp4.nn.recipe;


/** {@link OperandFormat#BF16}: round to nearest-even BF16, no scale. */
final class Bf16Operand implements OperandFormat {
    static final Bf16Operand INSTANCE = new Bf16Operand();

    private Bf16Operand() {
    }

    @Override
    public String name() {
        return "bf16";
    }

    /** Elementwise under one scale per operand. */
    @Override
    public boolean isLayoutFree() {
        return true;
    }

    @Override
    public Quantizer newQuantizer() {
        return (src, srcOff, rows, cols, dst, dstOff, stream) -> {
            int n = Math.multiplyExact(rows, cols);
            if (src != dst || srcOff != dstOff) {
                System.arraycopy(src, srcOff, dst, dstOff, n);
            }
            dev.fp4.core.format.BF16.roundInPlace(dst, dstOff, n);
        };
    }

    @Override
    public String toString() {
        return name();
    }
}
