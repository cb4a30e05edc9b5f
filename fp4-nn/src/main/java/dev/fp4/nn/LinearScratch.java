package dev.fp4.nn;

/**
 * Operand buffers for the quantized GeMM paths of linear layers. One model's layers run one at a
 * time, so they share one instance; buffers grow on demand and are then reused.
 */
final class LinearScratch {
    float[] a = new float[0];
    float[] b = new float[0];
    float[] dw = new float[0];

    LinearScratch ensure(long aSize, long bSize) {
        a = Workspace.grow(a, aSize);
        b = Workspace.grow(b, bSize);
        return this;
    }

    void ensureDw(long size) {
        dw = Workspace.grow(dw, size);
    }
}
