package dev.fp4.core.quant;

/**
 * A quantizer, estimator or clamp met a NaN or an infinity where it needs finite values. The
 * message names the value and where it is. A subclass of {@link IllegalArgumentException}, as
 * every rejected input here is, so that callers can tell this numerical event (in training: the
 * run diverged) from a capacity limit, a bad shape or a bug.
 */
public class NonFiniteValueException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** With a message naming the value and its position. */
    public NonFiniteValueException(String message) {
        super(message);
    }
}
