package dev.fp4.nn;

/**
 * Mean cross-entropy over the rows of logits [rows, vocab] against integer targets, through a
 * numerically stable log-softmax: loss_n = logsumexp(z_n) − z_n[t_n]. The gradient with respect to
 * the logits, (softmax(z_n) − onehot(t_n)) / rows, is produced in the same pass.
 */
public final class CrossEntropy {
    private CrossEntropy() {
    }

    /**
     * Returns the mean loss. Writes softmax(z) into {@code out} (which may alias {@code logits}),
     * turned into the gradient of the mean loss when {@code gradient} is true.
     */
    public static float forward(float[] logits, int[] targets, int rows, int vocab, float[] out, boolean gradient) {
        double total = 0;
        float inv = 1f / rows;
        for (int n = 0; n < rows; n++) {
            int off = n * vocab;
            int t = targets[n];
            float zt = logits[off + t];
            float lse = Softmax.forward(logits, off, out, off, vocab, 1f);
            if (gradient) {
                VectorOps.scale(out, off, vocab, inv);
                out[off + t] -= inv;
            }
            total += (double) lse - zt;
        }
        return (float) (total / rows);
    }
}
