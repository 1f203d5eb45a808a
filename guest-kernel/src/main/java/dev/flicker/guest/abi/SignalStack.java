package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static dev.flicker.guest.abi.Layouts.U32;
import static dev.flicker.guest.abi.Layouts.U64;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u32;
import static dev.flicker.guest.abi.Layouts.u64;

/** {@code stack_t}, the alternate signal stack of {@code sigaltstack} (24 bytes). */
public record SignalStack(long sp, int flags, long size) implements Marshallable {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            u64("ss_sp"), u32("ss_flags"), MemoryLayout.paddingLayout(4), u64("ss_size"));
    private static final long SP = offset(LAYOUT, "ss_sp"), FLAGS = offset(LAYOUT, "ss_flags"), SIZE = offset(LAYOUT, "ss_size");
    /** No alternate stack. */
    public static final SignalStack DISABLED = new SignalStack(0, Signals.SS_DISABLE, 0);

    @Override
    public long sizeBytes() {
        return LAYOUT.byteSize();
    }

    @Override
    public void marshal(MemorySegment to) {
        to.set(U64, SP, sp);
        to.set(U32, FLAGS, flags);
        to.set(U64, SIZE, size);
    }
}
