package dev.fp4.nn;

import java.util.Arrays;
import java.util.Objects;

/**
 * A named trainable tensor: FP32 master values and their gradient, both flat row-major arrays of
 * the same length, with a shape for checkpoints. Optimizers and checkpoints see a model only as a
 * list of these.
 */
public final class Parameter {
    private final String name;
    private final int[] shape;
    private final float[] data;
    private final float[] grad;

    /**
     * Creates a zero-initialised parameter.
     *
     * @param name  unique name within a model, e.g. {@code "layers.0.attn.wq"}
     * @param shape dimensions, row-major; every dimension positive
     */
    public Parameter(String name, int... shape) {
        this.name = Objects.requireNonNull(name, "name");
        this.shape = shape.clone();
        long n = 1;
        for (int d : shape) {
            if (d <= 0) {
                throw new IllegalArgumentException(name + ": dimensions must be positive, got " + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(name + ": too many elements for one array: " + Arrays.toString(shape));
        }
        this.data = new float[(int) n];
        this.grad = new float[(int) n];
    }

    /** The unique name. */
    public String name() {
        return name;
    }

    /** The shape (a copy). */
    public int[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public int size() {
        return data.length;
    }

    /** The FP32 master values (live: optimizers update them in place). */
    public float[] data() {
        return data;
    }

    /** The gradient accumulated by backward passes (live). */
    public float[] grad() {
        return grad;
    }

    /** Sets the gradient to zero. */
    public void zeroGrad() {
        Arrays.fill(grad, 0f);
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
