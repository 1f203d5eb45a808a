package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

import static dev.flicker.guest.abi.Layouts.U16;
import static dev.flicker.guest.abi.Layouts.U64;
import static dev.flicker.guest.abi.Layouts.U8;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u16;
import static dev.flicker.guest.abi.Layouts.u64;
import static dev.flicker.guest.abi.Layouts.u8;

/**
 * {@code struct linux_dirent64}, one entry of {@code getdents64}: a 19-byte header, the name and its NUL, padded to
 * 8 bytes ({@code d_reclen}).
 */
public record Dirent64(long ino, long off, int type, byte[] name) implements Marshallable {
    public static final StructLayout HEADER = MemoryLayout.structLayout(
            u64("d_ino"), u64("d_off"), u16("d_reclen"), u8("d_type"));
    private static final long INO = offset(HEADER, "d_ino"), OFF = offset(HEADER, "d_off"),
            RECLEN = offset(HEADER, "d_reclen"), TYPE = offset(HEADER, "d_type");

    /** The record's length: header, name, NUL, rounded up to 8. */
    @Override
    public long sizeBytes() {
        return (HEADER.byteSize() + name.length + 1 + 7) & ~7L;
    }

    @Override
    public void marshal(MemorySegment to) {
        to.set(U64, INO, ino);
        to.set(U64, OFF, off);
        to.set(U16, RECLEN, (short) sizeBytes());
        to.set(U8, TYPE, (byte) type);
        MemorySegment.copy(name, 0, to, ValueLayout.JAVA_BYTE, HEADER.byteSize(), name.length);
    }
}
