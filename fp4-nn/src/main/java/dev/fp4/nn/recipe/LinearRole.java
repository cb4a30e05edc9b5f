package dev.fp4.nn.recipe;

/** What a linear layer does in the model; recipes choose precisions by role. */
public enum LinearRole {
    /** Attention query projection (wq). */
    ATTN_Q,
    /** Attention key projection (wk). */
    ATTN_K,
    /** Attention value projection (wv). */
    ATTN_V,
    /** Attention output projection (wo). */
    ATTN_O,
    /** Feed-forward gate projection (w1). */
    FFN_GATE,
    /** Feed-forward up projection (w3). */
    FFN_UP,
    /** Feed-forward down projection (w2). */
    FFN_DOWN,
    /** The LM head (output projection to the vocabulary). */
    LM_HEAD;

    /** Whether this is one of the attention projections q/k/v/o. */
    public boolean isAttention() {
        return this == ATTN_Q || this == ATTN_K || this == ATTN_V || this == ATTN_O;
    }

    /** Whether this is one of the feed-forward projections gate/up/down. */
    public boolean isFeedForward() {
        return this == FFN_GATE || this == FFN_UP || this == FFN_DOWN;
    }
}
