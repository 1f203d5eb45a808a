package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static dev.flicker.guest.abi.Layouts.U64;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u64;

/** The kernel's {@code struct sigaction} that {@code rt_sigaction} takes on x86-64 (32 bytes, an 8-byte mask). */
public record Sigaction(long handler, long flags, long restorer, long mask) implements Marshallable {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            u64("sa_handler"), u64("sa_flags"), u64("sa_restorer"), u64("sa_mask"));
    private static final long HANDLER = offset(LAYOUT, "sa_handler"), FLAGS = offset(LAYOUT, "sa_flags"),
            RESTORER = offset(LAYOUT, "sa_restorer"), MASK = offset(LAYOUT, "sa_mask");
    /** SIG_DFL with no flags: every signal's action until the program sets one. */
    public static final Sigaction DEFAULT = new Sigaction(0, 0, 0, 0);

    public static Sigaction unmarshal(MemorySegment from) {
        return new Sigaction(from.get(U64, HANDLER), from.get(U64, FLAGS), from.get(U64, RESTORER), from.get(U64, MASK));
    }

    @Override
    public long sizeBytes() {
        return LAYOUT.byteSize();
    }

    @Override
    public void marshal(MemorySegment to) {
        to.set(U64, HANDLER, handler);
        to.set(U64, FLAGS, flags);
        to.set(U64, RESTORER, restorer);
        to.set(U64, MASK, mask);
    }
}
