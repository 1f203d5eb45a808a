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

/** {@code struct sysinfo} (linux/sysinfo.h, 112 bytes); loads, shared, buffer, swap and high memory are 0. */
public record Sysinfo(long uptimeSeconds, long totalram, long freeram, int procs, int memUnit) implements Marshallable {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            u64("uptime"), MemoryLayout.sequenceLayout(3, ValueLayout.JAVA_LONG).withName("loads"), u64("totalram"),
            u64("freeram"), u64("sharedram"), u64("bufferram"), u64("totalswap"), u64("freeswap"), u16("procs"),
            u16("pad"), MemoryLayout.paddingLayout(4), u64("totalhigh"), u64("freehigh"), u32("mem_unit"),
            MemoryLayout.paddingLayout(4));
    private static final long UPTIME = offset(LAYOUT, "uptime"), TOTALRAM = offset(LAYOUT, "totalram"),
            FREERAM = offset(LAYOUT, "freeram"), PROCS = offset(LAYOUT, "procs"), MEM_UNIT = offset(LAYOUT, "mem_unit");

    @Override
    public long sizeBytes() {
        return LAYOUT.byteSize();
    }

    @Override
    public void marshal(MemorySegment to) {
        to.set(U64, UPTIME, uptimeSeconds);
        to.set(U64, TOTALRAM, totalram);
        to.set(U64, FREERAM, freeram);
        to.set(U16, PROCS, (short) procs);
        to.set(U32, MEM_UNIT, memUnit);
    }
}
