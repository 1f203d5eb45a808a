package dev.flicker.lambda.runtime;

import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.OutputCapture;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.TmpFs;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.guest.memory.PhysicalPages;
import dev.flicker.guest.net.Loopback;
import dev.flicker.guest.syscall.HostKernel;
import dev.flicker.guest.syscall.Sys;
import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.x86.PageTables;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.flicker.guest.abi.Errno.EAGAIN;
import static dev.flicker.guest.abi.Errno.ENOMEM;
import static dev.flicker.guest.abi.Errno.EPIPE;
import static dev.flicker.guest.abi.Mman.PROT_READ;
import static dev.flicker.guest.abi.Mman.PROT_WRITE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Runtime API behind the guest's sockets, called through the host kernel directly (no vCPU): what a program can
 * make it buffer stops at flow control or at the VM's host-memory budget, with Linux's errno, and closing a socket
 * gives everything back.
 */
class RuntimeApiSocketTest {
    private static final long PAGE = 4096;
    private static final long MEMORY = 64L << 20;
    private static final long BUF = 0x1000_0000L;
    private static final long BUF_BYTES = 2L << 20;
    private static final long ADDR = BUF + BUF_BYTES;

    @TempDir
    Path temp;

    private GuestMemory memory;
    private AddressSpace space;
    private Bundle bundle;
    private HostMemoryBudget budget;
    private HostKernel kernel;

    @BeforeEach
    void setUp() throws IOException {
        Path root = temp.resolve("bundle");
        Files.createDirectories(root);
        memory = GuestMemory.anonymous(GuestAddress.of(0), MEMORY);
        PhysicalPages frames = new PhysicalPages(memory, 2L << 20, MEMORY);
        PageTables tables = new PageTables(memory, frames.allocate(), frames::allocate);
        space = new AddressSpace(memory, tables, frames, 32L << 20);
        assertTrue(space.map(BUF, BUF_BYTES + PAGE, PROT_READ | PROT_WRITE, "buffers"));
        bundle = Bundle.open(root);
        budget = new HostMemoryBudget(8L << 20);
        kernel = new HostKernel(space, new FileTree(bundle, new TmpFs(4L << 20, budget), new SecureRandom()),
                new Loopback(budget, List.of(RuntimeApi.ENDPOINT)), new byte[0], new OutputCapture(1 << 20),
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

    /** A socket connected to the Runtime API at 127.0.0.1:9001. */
    private long apiSocket(int flags) throws MemoryFault {
        long fd = call(Sys.SOCKET, 2, 1 | flags, 0);
        if (fd < 0) return fd;
        byte[] addr = {2, 0, 0x23, 0x29, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
        space.copyOutBytes(ADDR, addr);
        assertEquals(0, call(Sys.CONNECT, fd, ADDR, 16));
        return fd;
    }

    @Test
    void aWriteThatFindsTheConnectionFullIsEagainAndOneOverTheBudgetEnomem() throws MemoryFault {
        final int SOCK_NONBLOCK = 04000;
        long fd = apiSocket(SOCK_NONBLOCK);
        byte[] flood = "GET / HTTP/1.1\r\n\r\n".repeat(50_000).getBytes(StandardCharsets.ISO_8859_1);
        space.copyOutBytes(BUF, flood);
        long taken = 0, r;
        while ((r = call(Sys.WRITE, fd, BUF, flood.length)) > 0) taken += r;
        assertEquals(-EAGAIN, r);
        assertTrue(taken < 256 * 1024, taken + " bytes taken");

        // Partial bodies on other sockets until the 8 MiB budget is spent.
        byte[] head = "POST /x HTTP/1.1\r\nContent-Length: 6000000\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        long body = 0;
        r = 0;
        while (r >= 0) {
            long s = apiSocket(SOCK_NONBLOCK);
            space.copyOutBytes(BUF, head);
            assertEquals(head.length, call(Sys.WRITE, s, BUF, head.length));
            for (int k = 0; k < 5 && r >= 0; k++) {
                r = call(Sys.WRITE, s, BUF, 1 << 20);
                if (r > 0) body += r;
            }
        }
        assertEquals(-ENOMEM, r);
        assertTrue(body > 4L << 20 && budget.usedBytes() <= budget.limitBytes(), body + " body bytes");
    }

    @Test
    void closingASocketGivesItsMemoryBackAndAServerCloseIsEpipe() throws MemoryFault {
        long fd = apiSocket(0);
        byte[] half = "POST /x HTTP/1.1\r\nContent-Length: 3000000\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        space.copyOutBytes(BUF, half);
        assertEquals(half.length, call(Sys.WRITE, fd, BUF, half.length));
        assertEquals(1L << 20, call(Sys.WRITE, fd, BUF, 1L << 20));
        assertTrue(budget.usedBytes() > 1L << 20);
        assertEquals(0, call(Sys.CLOSE, fd));
        assertEquals(0, budget.usedBytes());

        long bad = apiSocket(0);
        byte[] nonsense = "A / HTTP/1.\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        space.copyOutBytes(BUF, nonsense);
        assertEquals(nonsense.length, call(Sys.WRITE, bad, BUF, nonsense.length));
        assertEquals(-EPIPE, call(Sys.WRITE, bad, BUF, nonsense.length));
        long n = call(Sys.READ, bad, BUF, PAGE);
        assertTrue(new String(space.copyInBytes(BUF, (int) n), StandardCharsets.ISO_8859_1).startsWith("HTTP/1.1 400"));
        assertEquals(0, call(Sys.READ, bad, BUF, PAGE), "then the end of the stream");
    }
}
