package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

import static dev.flicker.guest.abi.Layouts.U16;
import static dev.flicker.guest.abi.Layouts.U32;
import static dev.flicker.guest.abi.Layouts.U64;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u16;
import static dev.flicker.guest.abi.Layouts.u32;
import static dev.flicker.guest.abi.Layouts.u64;

/** {@code struct statx} (linux/stat.h, 256 bytes), with the fields {@code STATX_BASIC_STATS} names; times are 0. */
public record Statx(int mask, int blksize, int nlink, int uid, int gid, int mode, long ino, long size, long blocks)
        implements Marshallable {
    /** Type, mode, nlink, uid, gid, atime, mtime, ctime, ino, size and blocks. */
    public static final int STATX_BASIC_STATS = 0x7ff;
    /** {@code struct statx_timestamp}. */
    public static final StructLayout TIMESTAMP = MemoryLayout.structLayout(u64("tv_sec"), u32("tv_nsec"), u32("__reserved"));
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            u32("stx_mask"), u32("stx_blksize"), u64("stx_attributes"), u32("stx_nlink"), u32("stx_uid"), u32("stx_gid"),
            u16("stx_mode"), MemoryLayout.paddingLayout(2), u64("stx_ino"), u64("stx_size"), u64("stx_blocks"),
            u64("stx_attributes_mask"), TIMESTAMP.withName("stx_atime"), TIMESTAMP.withName("stx_btime"),
            TIMESTAMP.withName("stx_ctime"), TIMESTAMP.withName("stx_mtime"), u32("stx_rdev_major"),
            u32("stx_rdev_minor"), u32("stx_dev_major"), u32("stx_dev_minor"), u64("stx_mnt_id"),
            u32("stx_dio_mem_align"), u32("stx_dio_offset_align"),
            MemoryLayout.sequenceLayout(12, ValueLayout.JAVA_LONG).withName("__spare3"));
    private static final long MASK = offset(LAYOUT, "stx_mask"), BLKSIZE = offset(LAYOUT, "stx_blksize"),
            NLINK = offset(LAYOUT, "stx_nlink"), UID = offset(LAYOUT, "stx_uid"), GID = offset(LAYOUT, "stx_gid"),
            MODE = offset(LAYOUT, "stx_mode"), INO = offset(LAYOUT, "stx_ino"), SIZE = offset(LAYOUT, "stx_size"),
            BLOCKS = offset(LAYOUT, "stx_blocks");

    @Override
    public long sizeBytes() {
        return LAYOUT.byteSize();
    }

    @Override
    public void marshal(MemorySegment to) {
        to.set(U32, MASK, mask);
        to.set(U32, BLKSIZE, blksize);
        to.set(U32, NLINK, nlink);
        to.set(U32, UID, uid);
        to.set(U32, GID, gid);
        to.set(U16, MODE, (short) mode);
        to.set(U64, INO, ino);
        to.set(U64, SIZE, size);
        to.set(U64, BLOCKS, blocks);
    }
}
