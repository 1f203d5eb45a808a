package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static dev.flicker.guest.abi.Layouts.U16;
import static dev.flicker.guest.abi.Layouts.U32;
import static dev.flicker.guest.abi.Layouts.U64;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u16;
import static dev.flicker.guest.abi.Layouts.u32;
import static dev.flicker.guest.abi.Layouts.u64;

/** {@code struct flock} (32 bytes) of the {@code fcntl} record locks, and its lock types (asm-generic/fcntl.h). */
public record Flock(int type, int whence, long start, long length, int pid) {
    public static final int F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(u16("l_type"), u16("l_whence"),
            MemoryLayout.paddingLayout(4), u64("l_start"), u64("l_len"), u32("l_pid"), MemoryLayout.paddingLayout(4));
    private static final long L_TYPE = offset(LAYOUT, "l_type"), L_WHENCE = offset(LAYOUT, "l_whence"),
            L_START = offset(LAYOUT, "l_start"), L_LEN = offset(LAYOUT, "l_len"), L_PID = offset(LAYOUT, "l_pid");
    /** Where {@code l_type} lies: {@code F_GETLK} writes only that field back when nothing conflicts. */
    public static final long TYPE_OFFSET = L_TYPE;

    public static Flock unmarshal(MemorySegment from) {
        return new Flock(from.get(U16, L_TYPE), from.get(U16, L_WHENCE), from.get(U64, L_START), from.get(U64, L_LEN),
                from.get(U32, L_PID));
    }
}
