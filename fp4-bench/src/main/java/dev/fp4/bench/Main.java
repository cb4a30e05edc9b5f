package dev.fp4.bench;

/** Entry point of {@code fp4.jar}. */
public final class Main {
    private Main() {
    }

    /** Runs the command line. */
    public static void main(String[] args) {
        System.out.println("fp4: " + dev.fp4.core.simd.Simd.describe());
    }
}
