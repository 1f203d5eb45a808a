package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static dev.flicker.guest.abi.Layouts.U32;
import static dev.flicker.guest.abi.Layouts.U64;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u32;
import static dev.flicker.guest.abi.Layouts.u64;

/**
 * x86-64's {@code struct stat} (asm/stat.h, 144 bytes), as {@code stat}, {@code fstat} and {@code newfstatat}
 * fill it. {@code st_rdev} and the three times are always 0: the micro guest keeps no file times.
 */
public record Stat(long dev, long ino, long nlink, int mode, int uid, int gid, long size, long blksize, long blocks)
        implements Marshallable {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            u64("st_dev"), u64("st_ino"), u64("st_nlink"), u32("st_mode"), u32("st_uid"), u32("st_gid"), u32("__pad0"),
            u64("st_rdev"), u64("st_size"), u64("st_blksize"), u64("st_blocks"),
            Timespec.LAYOUT.withName("st_atim"), Timespec.LAYOUT.withName("st_mtim"), Timespec.LAYOUT.withName("st_ctim"),
            MemoryLayout.sequenceLayout(3, java.lang.foreign.ValueLayout.JAVA_LONG).withName("__unused"));
    private static final long DEV = offset(LAYOUT, "st_dev"), INO = offset(LAYOUT, "st_ino"),
            NLINK = offset(LAYOUT, "st_nlink"), MODE = offset(LAYOUT, "st_mode"), UID = offset(LAYOUT, "st_uid"),
            GID = offset(LAYOUT, "st_gid"), SIZE = offset(LAYOUT, "st_size"), BLKSIZE = offset(LAYOUT, "st_blksize"),
            BLOCKS = offset(LAYOUT, "st_blocks");

    @Override
    public long sizeBytes() {
        return LAYOUT.byteSize();
    }

    @Override
    public void marshal(MemorySegment to) {
        to.set(U64, DEV, dev);
        to.set(U64, INO, ino);
        to.set(U64, NLINK, nlink);
        to.set(U32, MODE, mode);
        to.set(U32, UID, uid);
        to.set(U32, GID, gid);
        to.set(U64, SIZE, size);
        to.set(U64, BLKSIZE, blksize);
        to.set(U64, BLOCKS, blocks);
    }
}
