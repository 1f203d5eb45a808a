package dev.flicker.guest.abi;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The structs' layouts against x86-64 Linux's sizes and offsets (as {@code offsetof} gives them in C). */
class StructLayoutTest {
    private static long at(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    @Test
    void sizesAreLinuxs() {
        assertEquals(144, Stat.LAYOUT.byteSize());
        assertEquals(256, Statx.LAYOUT.byteSize());
        assertEquals(16, Timespec.LAYOUT.byteSize());
        assertEquals(16, Timeval.LAYOUT.byteSize());
        assertEquals(32, Sigaction.LAYOUT.byteSize());
        assertEquals(24, SignalStack.LAYOUT.byteSize());
        assertEquals(8, PollFd.LAYOUT.byteSize());
        assertEquals(16, Iovec.LAYOUT.byteSize());
        assertEquals(390, Utsname.LAYOUT.byteSize());
        assertEquals(112, Sysinfo.LAYOUT.byteSize());
        assertEquals(16, Rlimit.LAYOUT.byteSize());
        assertEquals(16, SockaddrIn.LAYOUT.byteSize());
        assertEquals(19, Dirent64.HEADER.byteSize());
        assertEquals(32, Flock.LAYOUT.byteSize());
    }

    @Test
    void offsetsAreLinuxs() {
        assertEquals(24, at(Stat.LAYOUT, "st_mode"));
        assertEquals(48, at(Stat.LAYOUT, "st_size"));
        assertEquals(64, at(Stat.LAYOUT, "st_blocks"));
        assertEquals(72, at(Stat.LAYOUT, "st_atim"));
        assertEquals(28, at(Statx.LAYOUT, "stx_mode"));
        assertEquals(8, at(Flock.LAYOUT, "l_start"));
        assertEquals(24, at(Flock.LAYOUT, "l_pid"));
        assertEquals(32, at(Statx.LAYOUT, "stx_ino"));
        assertEquals(64, at(Statx.LAYOUT, "stx_atime"));
        assertEquals(144, at(Statx.LAYOUT, "stx_mnt_id"));
        assertEquals(80, at(Sysinfo.LAYOUT, "procs"));
        assertEquals(104, at(Sysinfo.LAYOUT, "mem_unit"));
        assertEquals(8, at(SignalStack.LAYOUT, "ss_flags"));
        assertEquals(16, at(SignalStack.LAYOUT, "ss_size"));
        assertEquals(6, PollFd.REVENTS_OFFSET);
        assertEquals(8, SockaddrIn.ADDRESS_BYTES);
        assertEquals(130, at(Utsname.LAYOUT, "release"));
    }

    private static byte[] marshalled(Marshallable value) {
        byte[] bytes = new byte[(int) value.sizeBytes()];
        value.marshal(MemorySegment.ofArray(bytes));
        return bytes;
    }

    @Test
    void socketAddressesAreInNetworkOrder() {
        byte[] b = marshalled(new SockaddrIn(Sockets.AF_INET, 9001, Sockets.INADDR_LOOPBACK));
        assertArrayEquals(new byte[] {2, 0, 0x23, 0x29, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, b);
        SockaddrIn back = SockaddrIn.unmarshal(MemorySegment.ofArray(b));
        assertEquals(new SockaddrIn(Sockets.AF_INET, 9001, Sockets.INADDR_LOOPBACK), back);
    }

    @Test
    void aDirectoryEntryIsPaddedToEightBytes() {
        Dirent64 e = new Dirent64(7, 3, FileMode.DT_REG, "abcde".getBytes(StandardCharsets.UTF_8));
        assertEquals(32, e.sizeBytes(), "19 + 5 + NUL = 25, rounded up");
        byte[] b = marshalled(e);
        assertEquals(32, b[16]);
        assertEquals(FileMode.DT_REG, b[18]);
        assertEquals("abcde", new String(b, 19, 5, StandardCharsets.UTF_8));
        assertEquals(0, b[24], "NUL-terminated");
    }

    @Test
    void utsnameFieldsKeepTheirNul() {
        String long65 = "x".repeat(70);
        byte[] b = marshalled(new Utsname(long65, "n", "r", "v", "m", "d"));
        assertEquals('x', b[63]);
        assertEquals(0, b[64], "cut to 64 bytes and a NUL");
        assertEquals('n', b[65]);
    }

    @Test
    void timesSplitIntoSecondsAndAFraction() {
        assertEquals(new Timespec(1, 5), Timespec.ofNanos(1_000_000_005L));
        assertEquals(new Timespec(-1, 999_999_999), Timespec.ofNanos(-1));
        assertEquals(new Timeval(2, 3), Timeval.ofNanos(2_000_003_999L));
    }
}
