package dev.fp4.nn.reliability;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.function.Executable;

/**
 * One row of a validation table: a call with a bad input, the exception type it must throw and the
 * fragments its message must contain (expected and actual shapes, the index of the offending
 * element, the list of valid names ...), plus an optional check run afterwards (e.g. that the
 * input array was left unchanged). {@link #verify()} prints the row as
 * {@code BADINPUT | what | exception | message} for docs/reliability.md.
 */
record BadInput(String what, Class<? extends Throwable> type, Executable call, List<String> fragments, Executable after) {

    /** A row: {@code call} must throw {@code type} with a message containing every fragment. */
    public static BadInput of(String what, Class<? extends Throwable> type, Executable call, String... fragments) {
        return new BadInput(what, type, call, List.of(fragments), () -> { });
    }

    /** This row with a check run after the exception (state left unchanged, ...). */
    public BadInput then(Executable check) {
        return new BadInput(what, type, call, fragments, check);
    }

    /** Runs the call and checks the exception, the message and the after-check. */
    public void verify() throws Throwable {
        Throwable t = assertThrows(type, call, what);
        String msg = String.valueOf(t.getMessage());
        for (String f : fragments) {
            if (!msg.contains(f)) {
                throw new AssertionError(what + ": message lacks \"" + f + "\": " + msg, t);
            }
        }
        after.execute();
        System.out.println("BADINPUT | " + what + " | " + t.getClass().getSimpleName() + " | " + msg.replace('\n', ' '));
    }

    @Override
    public String toString() {
        return what;
    }
}
