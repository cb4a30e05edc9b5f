package dev.fp4.nn.optim;

import dev.fp4.nn.Parameter;
import java.util.Locale;

/**
 * Which parameters receive decoupled weight decay.
 *
 * <p>The default, {@link #MATRICES_EXCEPT_EMBEDDINGS}, follows the usual LLaMA/GPT practice: decay
 * the weight matrices of linear layers, but not vectors (RMSNorm gains, biases) and not embedding
 * tables. A parameter counts as an embedding when the last dot-separated segment of its name
 * (or the segment before it when the last one is {@code weight}) contains {@code "emb"},
 * case-insensitive: {@code tok_embeddings}, {@code embedding.weight}, {@code tok_emb}. Supply a
 * custom rule for other naming schemes.
 */
@FunctionalInterface
public interface WeightDecayRule {
    /** True when {@code p} is decayed. */
    boolean decays(Parameter p);

    /** Parameters with two or more dimensions whose name's last segment does not contain "emb". */
    WeightDecayRule MATRICES_EXCEPT_EMBEDDINGS = p -> p.shape().length >= 2 && !isEmbedding(p.name());
    /** Every parameter. */
    WeightDecayRule ALL = p -> true;
    /** No parameter. */
    WeightDecayRule NONE = p -> false;

    /** The embedding test of {@link #MATRICES_EXCEPT_EMBEDDINGS}. */
    static boolean isEmbedding(String name) {
        String last = name.substring(name.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
        if (last.equals("weight") && name.lastIndexOf('.') > 0) {
            String prefix = name.substring(0, name.lastIndexOf('.'));
            last = prefix.substring(prefix.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
        }
        return last.contains("emb");
    }
}
