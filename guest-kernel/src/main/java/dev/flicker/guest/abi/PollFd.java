package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static dev.flicker.guest.abi.Layouts.U16;
import static dev.flicker.guest.abi.Layouts.U32;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u16;
import static dev.flicker.guest.abi.Layouts.u32;

/** {@code struct pollfd} (8 bytes) and the poll events (asm-generic/poll.h). */
public record PollFd(int fd, int events) {
    public static final int POLLIN = 0x1, POLLOUT = 0x4, POLLNVAL = 0x20;
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(u32("fd"), u16("events"), u16("revents"));
    private static final long FD = offset(LAYOUT, "fd"), EVENTS = offset(LAYOUT, "events");
    /** Where {@code revents} lies: poll writes only that field back. */
    public static final long REVENTS_OFFSET = offset(LAYOUT, "revents");

    public static PollFd unmarshal(MemorySegment from) {
        return new PollFd(from.get(U32, FD), Short.toUnsignedInt(from.get(U16, EVENTS)));
    }
}
