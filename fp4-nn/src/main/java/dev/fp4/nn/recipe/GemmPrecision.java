package dev.fp4.nn.recipe;

import java.util.Objects;

/**
 * The formats of the two operands of one GeMM C = A·Bᵀ in the layout where both operands are
 * [·, K] with K the reduction dimension:
 * <ul>
 *   <li>forward Y = X·Ŵᵀ: a = X [tokens, in], b = W [out, in];
 *   <li>data gradient dX = dY·Ŵ: a = dY [tokens, out], b = Ŵᵀ [in, out];
 *   <li>weight gradient dŴ = dYᵀ·X̂: a = dYᵀ [out, tokens], b = X̂ᵀ [in, tokens].
 * </ul>
 *
 * @param a the left operand's format
 * @param b the right operand's format
 */
public record GemmPrecision(OperandFormat a, OperandFormat b) {
    /** Both operands FP32. */
    public static final GemmPrecision FP32 = new GemmPrecision(OperandFormat.FP32, OperandFormat.FP32);

    /** Checks for null. */
    public GemmPrecision {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
    }

    /** Both operands in the same format. */
    public static GemmPrecision both(OperandFormat f) {
        return new GemmPrecision(f, f);
    }

    /** Whether both operands are FP32. */
    public boolean isIdentity() {
        return a.isIdentity() && b.isIdentity();
    }

    @Override
    public String toString() {
        return a.name() + "x" + b.name();
    }
}
