package dev.fp4.nn.recipe;

import dev.fp4.core.quant.Fp4Scheme;
import dev.fp4.core.quant.Fp4Tensor;
import java.util.Objects;

/**
 * {@link OperandFormat#fp4(Fp4Scheme)}: an operand quantized to E2M1 under an {@link Fp4Scheme}
 * with fp4-core's {@link Fp4Tensor} and dequantized back to FP32,
 * x̂[r,c] = E2M1(code[r,c])·scale(r,c)·tensorScale.
 *
 * <p>Stochastic rounding: when the scheme's rounding is stochastic, the quantizer's
 * {@code stream} argument selects the variates ({@link Fp4Tensor#quantizeFrom(float[], int, long)}),
 * so a layer that passes a stream derived from the model seed and the step rounds reproducibly.
 *
 * @param scheme the blocks, scale rule and rounding
 */
public record Fp4Operand(Fp4Scheme scheme) implements OperandFormat {

    /** Checks for null. */
    public Fp4Operand {
        Objects.requireNonNull(scheme, "scheme");
    }

    @Override
    public String name() {
        return "fp4(" + scheme.name() + ")";
    }

    /** Square blocks (16×16 NVFP4) under deterministic rounding. */
    @Override
    public boolean reusableTransposed() {
        return scheme.blockRows() > 0 && scheme.blockRows() == scheme.blockCols() && !usesRoundingStream();
    }

    @Override
    public boolean hasE2M1Elements() {
        return true;
    }

    @Override
    public boolean usesRoundingStream() {
        return scheme.rounding().isStochastic();
    }

    @Override
    public Quantizer newQuantizer() {
        return new Worker(scheme);
    }

    @Override
    public String toString() {
        return name();
    }

    /**
     * The worker: one reusable {@link Fp4Tensor} per operand shape (reallocated only when the shape
     * changes), so steps of a fixed shape allocate nothing.
     */
    static final class Worker implements Quantizer {
        private final Fp4Scheme scheme;
        private Fp4Tensor tensor;

        Worker(Fp4Scheme scheme) {
            this.scheme = scheme;
        }

        @Override
        public void quantize(float[] src, int srcOff, int rows, int cols, float[] dst, int dstOff, long stream) {
            // The tensor reads all of src before dequantizeInto writes, so dst may alias src.
            quantizePacked(src, srcOff, rows, cols, stream).dequantizeInto(dst, dstOff);
        }

        @Override
        public Fp4Tensor quantizePacked(float[] src, int srcOff, int rows, int cols, long stream) {
            if (tensor == null || tensor.rows() != rows || tensor.cols() != cols) {
                tensor = Fp4Tensor.allocate(rows, cols, scheme);
            }
            tensor.quantizeFrom(src, srcOff, stream);
            return tensor;
        }

        /**
         * x = src / (scale(r,c)·tensorScale): the value the E2M1 rounding saw. Exact for the
         * power-of-two scale rules (the multiplier is then exactly 1/scale); for the 6/amax and NVFP4
         * rules the multiplier is itself rounded and x may differ from the encoder's by an ulp.
         */
        @Override
        public void scaledValues(float[] src, int srcOff, float[] dst, int dstOff) {
            if (tensor == null) {
                throw new IllegalStateException("scaledValues() before quantize()");
            }
            int rows = tensor.rows();
            int cols = tensor.cols();
            Objects.checkFromIndexSize(srcOff, rows * cols, src.length);
            Objects.checkFromIndexSize(dstOff, rows * cols, dst.length);
            float t = tensor.tensorScale();
            int bc = scheme.blockCols() == 0 ? cols : scheme.blockCols();
            for (int r = 0; r < rows; r++) {
                int base = r * cols;
                // The divisor scale(r, c)·tensorScale is the same over a block's columns: once per block.
                for (int c0 = 0; c0 < cols; c0 += bc) {
                    float divisor = tensor.scale(r, c0) * t;
                    int c1 = Math.min(cols, c0 + bc);
                    for (int c = c0; c < c1; c++) {
                        // a zero-scale block saw no rounding (see straightThroughOnZeroScale): 0, never ±∞ or NaN
                        dst[dstOff + base + c] = divisor == 0f ? 0f : src[srcOff + base + c] / divisor;
                    }
                }
            }
        }

        @Override
        public boolean replays() {
            return true;
        }

        /** The E2M1 codes and scales of the last operand, dequantized again: the same bits as then. */
        @Override
        public void replay(float[] dst, int dstOff) {
            if (tensor == null) {
                throw new IllegalStateException("replay() before quantize()");
            }
            tensor.dequantizeInto(dst, dstOff);
        }

        @Override
        public void straightThroughOnZeroScale(float[] deriv, int off, int len) {
            if (tensor == null) {
                throw new IllegalStateException("straightThroughOnZeroScale() before quantize()");
            }
            int cols = tensor.cols();
            int bc = scheme.blockCols() == 0 ? cols : scheme.blockCols();
            int end = off + len;
            for (int i = off; i < end; ) {
                int r = i / cols;
                int c = i % cols;
                int blockEnd = Math.min(end, r * cols + Math.min(cols, (c / bc + 1) * bc));
                if (tensor.scale(r, c) == 0f) {
                    java.util.Arrays.fill(deriv, i, blockEnd, 1f);
                }
                i = blockEnd;
            }
        }
    }
}
