package dev.flicker.guest.syscall;

import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.OutputCapture;
import dev.flicker.guest.abi.Mman;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.TmpFs;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.guest.memory.PhysicalPages;
import dev.flicker.guest.net.EchoEndpoint;
import dev.flicker.guest.net.Loopback;
import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.x86.PageTables;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static dev.flicker.guest.abi.Errno.ENAMETOOLONG;
import static dev.flicker.guest.abi.Errno.ENFILE;
import static dev.flicker.guest.abi.Errno.ENOMEM;
import static dev.flicker.guest.abi.Errno.ENOSPC;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a program can make the host hold, called directly: /tmp entries and names, loopback sockets, directory
 * listings, mappings. Each stops at its limit with Linux's errno. (What a connection of the Runtime API may buffer
 * is tested with it, in the lambda module.)
 */
class HostKernelLimitsTest {
    private static final long PAGE = 4096;
    private static final long MEMORY = 64L << 20;
    private static final long BUF = 0x1000_0000L;
    private static final long BUF_BYTES = 2L << 20;
    private static final long PATH = BUF + BUF_BYTES;
    private static final long ADDR = PATH + PAGE;
    private static final int AT_FDCWD = -100, O_RDONLY = 0, O_CREAT = 0100, O_WRONLY = 1, O_DIRECTORY = 0200000;
    private static final int ENDPOINT_PORT = 9001;

    @TempDir
    Path temp;

    private GuestMemory memory;
    private AddressSpace space;
    private Bundle bundle;
    private HostMemoryBudget budget;
    private TmpFs tmp;
    private HostKernel kernel;

    @BeforeEach
    void setUp() throws IOException {
        Path root = temp.resolve("bundle");
        Files.createDirectories(root);
        memory = GuestMemory.anonymous(GuestAddress.of(0), MEMORY);
        PhysicalPages frames = new PhysicalPages(memory, 2L << 20, MEMORY);
        PageTables tables = new PageTables(memory, frames.allocate(), frames::allocate);
        space = new AddressSpace(memory, tables, frames, 32L << 20);
        assertTrue(space.map(BUF, BUF_BYTES + PAGE + PAGE, Mman.PROT_READ | Mman.PROT_WRITE, "buffers"));
        bundle = Bundle.open(root);
        budget = new HostMemoryBudget(8L << 20);
        tmp = new TmpFs(4L << 20, budget);
        kernel = new HostKernel(space, new FileTree(bundle, tmp, new SecureRandom()),
                new Loopback(budget, List.of(EchoEndpoint.spec(ENDPOINT_PORT))), new byte[0], new OutputCapture(1 << 20),
                new OutputCapture(1 << 20), value -> {}, new SecureRandom(), "/var/task/x");
        kernel.setDeadline(System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
    }

    @AfterEach
    void tearDown() {
        bundle.close();
        memory.close();
    }

    private long call(int nr, long... args) {
        long[] a = Arrays.copyOf(args, 6);
        return kernel.handle(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }

    private long path(String s) throws MemoryFault {
        space.copyOutBytes(PATH, (s + "\0").getBytes(StandardCharsets.UTF_8));
        return PATH;
    }

    private long mkdir(String p) throws MemoryFault {
        return call(Sys.MKDIRAT, AT_FDCWD, path(p), 0755);
    }

    // ---- /tmp entries ----

    @Test
    void aNameLongerThanNameMaxIsEnametoolong() throws MemoryFault {
        assertEquals(-ENAMETOOLONG, mkdir("/tmp/" + "n".repeat(256)));
        assertEquals(-ENAMETOOLONG, call(Sys.OPENAT, AT_FDCWD, path("/tmp/" + "n".repeat(4000)), O_CREAT | O_WRONLY, 0644));
        assertEquals(-ENAMETOOLONG, call(Sys.STAT, path("/tmp/" + "é".repeat(128) + "/x"), ADDR));
        assertEquals(0, mkdir("/tmp/" + "n".repeat(255)));
        assertEquals(0, mkdir("/tmp/" + "é".repeat(127)), "254 bytes of UTF-8");
        assertEquals(0, tmp.usedBytes() - TmpFs.entryBytes("n".repeat(255)) - TmpFs.entryBytes("é".repeat(127)));
    }

    @Test
    void directoriesAndNamesFillTmpThenEnospcAndRemovingGivesTheRoomBack() throws MemoryFault {
        String name = "d".repeat(200);
        List<String> made = new ArrayList<>();
        long r;
        while ((r = mkdir("/tmp/" + made.size() + name)) == 0) made.add("/tmp/" + made.size() + name);
        assertEquals(-ENOSPC, r);
        assertTrue(made.size() > 1000, made.size() + " directories");
        assertTrue(tmp.usedBytes() <= 4L << 20 && budget.usedBytes() == tmp.usedBytes());
        assertEquals(-ENOSPC, call(Sys.OPENAT, AT_FDCWD, path("/tmp/file"), O_CREAT | O_WRONLY, 0644));
        final int AT_REMOVEDIR = 0x200;
        for (String p : made) assertEquals(0, call(Sys.UNLINKAT, AT_FDCWD, path(p), AT_REMOVEDIR));
        assertEquals(0, tmp.usedBytes());
        assertEquals(0, budget.usedBytes());
        assertEquals(0, mkdir("/tmp/again"));
    }

    @Test
    void directoryListingsWalkTheDirectoryAcrossCallsAndAfterASeek() throws MemoryFault {
        Set<String> names = new HashSet<>();
        for (int i = 0; i < 500; i++) {
            assertEquals(0, mkdir("/tmp/entry-" + i));
            names.add("entry-" + i);
        }
        long fd = call(Sys.OPENAT, AT_FDCWD, path("/tmp"), O_RDONLY | O_DIRECTORY, 0);
        assertTrue(fd >= 0);
        for (int pass = 0; pass < 2; pass++) {
            List<String> listed = new ArrayList<>();
            long n;
            while ((n = call(Sys.GETDENTS64, fd, BUF, 300)) > 0) listed.addAll(direntNames(n));
            assertEquals(0, n);
            assertEquals(502, listed.size(), "., .. and every entry once");
            assertEquals(names, new HashSet<>(listed.subList(2, listed.size())));
            assertEquals(List.of(".", ".."), listed.subList(0, 2));
            assertEquals(0, call(Sys.LSEEK, fd, 0, 0), "rewind");
        }
        // A seek into the middle counts its way to that entry.
        assertEquals(102, call(Sys.LSEEK, fd, 102, 0));
        List<String> rest = new ArrayList<>();
        long n;
        while ((n = call(Sys.GETDENTS64, fd, BUF, PAGE)) > 0) rest.addAll(direntNames(n));
        assertEquals(400, rest.size());
        // A huge count is clamped: one call returns everything here, within 1 MiB.
        assertEquals(0, call(Sys.LSEEK, fd, 0, 0));
        assertTrue(call(Sys.GETDENTS64, fd, BUF, -1L) > 0);
    }

    private List<String> direntNames(long bytes) throws MemoryFault {
        byte[] b = space.copyInBytes(BUF, (int) bytes);
        MemorySegment s = MemorySegment.ofArray(b);
        List<String> names = new ArrayList<>();
        for (int at = 0; at < bytes; ) {
            int reclen = Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + 16));
            int end = at + 19;
            while (b[end] != 0) end++;
            names.add(new String(b, at + 19, end - at - 19, StandardCharsets.UTF_8));
            at += reclen;
        }
        return names;
    }

    // ---- vectored I/O ----

    @Test
    void readvAndWritevMoveAtMostOneMibPerCall() throws MemoryFault {
        long fd = call(Sys.OPENAT, AT_FDCWD, path("/tmp/f"), O_CREAT | 2, 0644);
        // 1024 vectors of the same 1 MiB buffer would be 1 GiB in one call.
        long iov = ADDR;
        for (int i = 0; i < 256; i++) {
            space.copyOutLong(iov + 16L * i, BUF);
            space.copyOutLong(iov + 16L * i + 8, 1L << 20);
        }
        assertEquals(1L << 20, call(Sys.WRITEV, fd, iov, 256));
        assertEquals(0, call(Sys.LSEEK, fd, 0, 0));
        assertEquals(1L << 20, call(Sys.READV, fd, iov, 256));
    }

    // ---- loopback sockets ----

    /** A socket connected to the test's endpoint at 127.0.0.1:9001. */
    private long apiSocket(int flags) throws MemoryFault {
        long fd = call(Sys.SOCKET, 2, 1 | flags, 0);
        if (fd < 0) return fd;
        byte[] addr = {2, 0, 0x23, 0x29, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
        space.copyOutBytes(ADDR, addr);
        assertEquals(0, call(Sys.CONNECT, fd, ADDR, 16));
        return fd;
    }

    @Test
    void socketsAreLimitedPerVmAndClosingOneGivesItsPlaceBack() throws MemoryFault {
        List<Long> fds = new ArrayList<>();
        long fd;
        while ((fd = apiSocket(0)) >= 0) fds.add(fd);
        assertEquals(-ENFILE, fd);
        assertEquals(Loopback.MAX_SOCKETS, fds.size());
        assertEquals(Loopback.MAX_SOCKETS, kernel.openSockets());
        long dup = call(Sys.DUP, fds.getFirst());
        assertEquals(0, call(Sys.CLOSE, fds.getFirst()));
        assertEquals(-ENFILE, apiSocket(0), "a duplicate still holds the socket");
        assertEquals(0, call(Sys.CLOSE, dup));
        assertTrue(apiSocket(0) >= 0);
    }

    // ---- mappings ----

    @Test
    void mappingsStopAtTheMapCountAndSoDoHolesPunchedInThem() {
        final int PROT_NONE = 0, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20;
        // One PROT_NONE reservation costs nothing of the memory limit; holes punched in it each add a mapping.
        long length = 4L * AddressSpace.MAX_MAPPINGS * PAGE;
        long base = call(Sys.MMAP, 0, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assertTrue(base > 0);
        long r = 0;
        int holes = 0;
        for (long at = base + PAGE; r == 0; at += 2 * PAGE, holes++) r = call(Sys.MUNMAP, at, PAGE);
        assertEquals(-ENOMEM, r);
        assertTrue(holes > AddressSpace.MAX_MAPPINGS - 10, holes + " holes");
        // A hole needs two splits, so one more mapping may still fit; then nothing does.
        while (call(Sys.MMAP, 0, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) > 0) holes++;
        assertEquals(AddressSpace.MAX_MAPPINGS, space.mappings().size());
        assertEquals(-ENOMEM, call(Sys.MMAP, 0, PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        assertEquals(-ENOMEM, call(Sys.MPROTECT, base + length - 2 * PAGE, PAGE, 1), "splitting the reservation's tail");
        // Removing whole mappings needs no split and frees the count.
        assertEquals(0, call(Sys.MUNMAP, base, 2 * PAGE));
        assertTrue(call(Sys.MMAP, 0, PAGE, 3, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) > 0);
    }
}
