package dev.fp4.nn.data;

/** The two parts of a {@link TextDataset}. */
public enum Split {
    /** The first 90% of the bytes. */
    TRAIN,
    /** The last 10% of the bytes. */
    VALIDATION
}
