package dev.fp4.nn;

/**
 * A size the library cannot hold: a buffer of more elements than one Java array takes (2^31 − 9),
 * formed from a model configuration and a batch shape. The message names the size and what it is
 * for. Not a numerical event: training reports it as a failure, never as divergence.
 */
public class CapacityException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** With a message naming the size. */
    public CapacityException(String message) {
        super(message);
    }
}
