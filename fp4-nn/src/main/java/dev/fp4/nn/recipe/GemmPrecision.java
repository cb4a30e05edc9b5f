package dev.fp4.nn.recipe;

import dev.fp4.core.quant.RandomHadamard;
import java.util.Objects;

/**
 * The formats of the two operands of one GeMM C = A·Bᵀ in the layout where both operands are
 * [·, K] with K the reduction dimension (the layout in which the operands are quantized, so row
 * and 1×b block scales never straddle two reduction indices of one output):
 * <ul>
 *   <li>forward Y = X̂·Ŵᵀ: a = X [tokens, in], b = W [out, in] (per-row scales: per token, per
 *       output channel);
 *   <li>data gradient dX = dY·Ŵ: a = dY [tokens, out], b = Ŵᵀ [in, out];
 *   <li>weight gradient dŴ = dYᵀ·X̂: a = dYᵀ [out, tokens], b = X̂ᵀ [in, tokens].
 * </ul>
 * Optionally both operands pass through the same {@link RandomHadamard} transform along K before
 * they are quantized (NVIDIA's NVFP4 recipe does this for the weight gradient). The rotation M is
 * orthogonal, so (A·Mᵀ)(B·Mᵀ)ᵀ = A·Bᵀ: only the quantization error changes. When K is not a
 * multiple of the transform size, the last K mod size indices are left as they are (the rotation
 * is then block-diagonal with an identity block, still orthogonal). Layers accept a Hadamard only
 * on the two backward GeMMs, whose results come out in the original basis.
 *
 * <p>{@code fromInput} (weight gradient only): the operand X̂ᵀ is formed from the layer's
 * high-precision input X instead of the forward's quantized X̂, so X is quantized once for this
 * GeMM, along the tokens, rather than twice (first along {@code in}, then again along the tokens).
 * This is Transformer Engine's NVFP4 recipe, whose docstring says it avoids double quantization
 * errors; the layer then keeps a copy of X from the forward.
 *
 * @param a         the left operand's format
 * @param b         the right operand's format
 * @param hadamard  the transform along K of both operands before quantization, or null for none
 * @param fromInput whether the weight gradient's X operand comes from X rather than X̂
 */
public record GemmPrecision(OperandFormat a, OperandFormat b, RandomHadamard hadamard, boolean fromInput) {
    /** Both operands FP32. */
    public static final GemmPrecision FP32 = new GemmPrecision(OperandFormat.FP32, OperandFormat.FP32);

    /** Checks for null formats. */
    public GemmPrecision {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
    }

    /** Operands in formats a and b, no transform. */
    public GemmPrecision(OperandFormat a, OperandFormat b) {
        this(a, b, null, false);
    }

    /** Operands in formats a and b rotated by {@code hadamard} (null: none), X̂ from the forward. */
    public GemmPrecision(OperandFormat a, OperandFormat b, RandomHadamard hadamard) {
        this(a, b, hadamard, false);
    }

    /** Both operands in the same format. */
    public static GemmPrecision both(OperandFormat f) {
        return new GemmPrecision(f, f);
    }

    /** A copy whose operands are rotated by {@code h} along K before quantization. */
    public GemmPrecision withHadamard(RandomHadamard h) {
        return new GemmPrecision(a, b, Objects.requireNonNull(h, "hadamard"), fromInput);
    }

    /** A copy whose X operand (weight gradient) is quantized from the layer's input X, not from X̂. */
    public GemmPrecision withOperandFromInput() {
        return new GemmPrecision(a, b, hadamard, true);
    }

    /** Whether both operands are FP32 and untransformed (layers then multiply the raw operands). */
    public boolean isIdentity() {
        return a.isIdentity() && b.isIdentity() && hadamard == null;
    }

    @Override
    public String toString() {
        return a.name() + " x " + b.name() + (hadamard == null ? "" : " (hadamard " + hadamard.size() + ")")
                + (fromInput ? " (from X)" : "");
    }
}
