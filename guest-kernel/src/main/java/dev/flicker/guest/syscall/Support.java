package dev.flicker.guest.syscall;

/**
 * How far the micro guest implements a system call, as gVisor's table says it: fully, partly (with a note of what
 * differs from Linux), or not at all on purpose, answering an errno (and not counted as unknown).
 * docs/syscalls.md gives the same level for every call.
 */
public sealed interface Support {
    /** The level as docs/syscalls.md writes it. */
    String label();

    record Supported() implements Support {
        @Override
        public String label() {
            return "Supported";
        }
    }

    /** Implemented, with the differences from Linux in {@code note}. */
    record Partial(String note) implements Support {
        @Override
        public String label() {
            return "Partial";
        }
    }

    /** Answers {@code -errno} on purpose, for the reason in {@code note}. */
    record Error(int errno, String errnoName, String note) implements Support {
        @Override
        public String label() {
            return "Error " + errnoName;
        }
    }
}
