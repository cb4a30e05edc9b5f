package dev.fp4.nn;

/**
 * Operand buffers for the quantized GeMM paths of linear layers. One model's layers run one at a
 * time, so they share one instance; buffers grow on demand and are then reused.
 */
final class LinearScratch {
    float[] a = new float[0];
    float[] b = new float[0];
    float[] dw = new float[0];
    float[] dx = new float[0];
    float[] deriv = new float[0];
    /**
     * Set by a backward's data gradient to {@link #a} when it holds Q(dY) [rows, out] of a
     * layout-free format ({@link #quantizedDyFormat}), so the weight gradient of the same backward
     * can use it; null otherwise.
     */
    float[] quantizedDy;
    dev.fp4.nn.recipe.OperandFormat quantizedDyFormat;
    /**
     * Q(X̂) [rows, cols] of a layout-free format for the weight gradient, and the key it was made
     * for: the serial of the forward that prepared X̂ (0 = none), the format and the shape.
     */
    float[] xq8 = new float[0];
    long quantizedXhatSerial;
    dev.fp4.nn.recipe.OperandFormat quantizedXhatFormat;
    int quantizedXhatRows;
    int quantizedXhatCols;

    /**
     * The FP32 forms of what a layer keeps packed between forward and backward (its quantizers
     * hold E2M1 codes and scales): X̂, Ŵ, the scaled weights of the estimator, Wᵀ of the
     * compensation. Filled in the forward for its GeMM and again in the backward from the packed
     * form, so the model keeps one of each, not one per layer.
     */
    float[] xhat = new float[0];
    float[] wq = new float[0];
    float[] wScaled = new float[0];
    float[] wT = new float[0];

    /** The first outlier clamp of the model's layers: the others select in its scratch. */
    private dev.fp4.core.quant.OutlierClamp clampScratch;

    /** Makes {@code clamp} use the model's one clamp scratch (the layers clamp one at a time). */
    void shareClamp(dev.fp4.core.quant.OutlierClamp clamp) {
        if (clampScratch == null) {
            clampScratch = clamp;
        } else if (clamp != clampScratch) {
            clamp.shareScratchWith(clampScratch);
        }
    }

    LinearScratch ensure(long aSize, long bSize) {
        a = Workspace.grow(a, aSize);
        b = Workspace.grow(b, bSize);
        return this;
    }

    void ensureDw(long size) {
        dw = Workspace.grow(dw, size);
    }

    void ensureXq8(long size) {
        xq8 = Workspace.grow(xq8, size);
    }

    void ensureDeriv(long size) {
        deriv = Workspace.grow(deriv, size);
    }

    void ensureDx(long size) {
        dx = Workspace.grow(dx, size);
    }
}
