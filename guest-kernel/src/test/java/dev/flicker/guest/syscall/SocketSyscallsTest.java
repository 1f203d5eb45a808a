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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.flicker.guest.abi.Errno.ECONNREFUSED;
import static dev.flicker.guest.abi.Errno.EINTR;
import static dev.flicker.guest.abi.Errno.EISCONN;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sockets reach only the loopback endpoints the VM was given, and an endpoint that waits for the host's event
 * stops the run there, the snapshot point, whatever it speaks: here an echo endpoint stands in for the Runtime API.
 */
class SocketSyscallsTest {
    private static final long PAGE = 4096;
    private static final long MEMORY = 64L << 20;
    private static final long BUF = 0x1000_0000L;
    private static final long ADDR = BUF + PAGE;
    private static final int PORT = 7000;

    @TempDir
    Path temp;

    private GuestMemory memory;
    private AddressSpace space;
    private Bundle bundle;
    private HostKernel kernel;
    private EchoEndpoint echo;

    @BeforeEach
    void setUp() throws IOException {
        Files.createDirectories(temp.resolve("bundle"));
        memory = GuestMemory.anonymous(GuestAddress.of(0), MEMORY);
        PhysicalPages frames = new PhysicalPages(memory, 2L << 20, MEMORY);
        space = new AddressSpace(memory, new PageTables(memory, frames.allocate(), frames::allocate), frames, 32L << 20);
        assertTrue(space.map(BUF, 2 * PAGE, Mman.PROT_READ | Mman.PROT_WRITE, "buffers"));
        bundle = Bundle.open(temp.resolve("bundle"));
        HostMemoryBudget budget = new HostMemoryBudget(8L << 20);
        kernel = new HostKernel(space, new FileTree(bundle, new TmpFs(1L << 20, budget), new SecureRandom()),
                new Loopback(budget, List.of(EchoEndpoint.spec(PORT))), new byte[0], new OutputCapture(1 << 20),
                new OutputCapture(1 << 20), value -> {}, new SecureRandom(), "/var/task/x");
        kernel.setDeadline(System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
        echo = assertInstanceOf(EchoEndpoint.class, kernel.endpoint(PORT));
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

    private long connect(long fd, int address, int port) throws MemoryFault {
        space.copyOutBytes(ADDR, new byte[] {2, 0, (byte) (port >> 8), (byte) port, (byte) (address >>> 24),
                (byte) (address >> 16), (byte) (address >> 8), (byte) address, 0, 0, 0, 0, 0, 0, 0, 0});
        return call(Sys.CONNECT, fd, ADDR, 16);
    }

    @Test
    void aSocketReachesOnlyTheEndpointsTheVmWasGiven() throws MemoryFault {
        long fd = call(Sys.SOCKET, 2, 1, 0);
        assertEquals(-ECONNREFUSED, connect(fd, 0x7f000001, PORT + 1), "nothing listens on another port");
        assertEquals(-ECONNREFUSED, connect(fd, 0x0a000001, PORT), "nor at another address");
        assertNull(kernel.endpoint(9001), "no Runtime API unless it was given");
        assertEquals(0, connect(fd, 0x7f000001, PORT));
        assertEquals(-EISCONN, connect(fd, 0x7f000001, PORT));

        space.copyOutBytes(BUF, "ping".getBytes(StandardCharsets.US_ASCII));
        assertEquals(4, call(Sys.WRITE, fd, BUF, 4));
        assertEquals(4, call(Sys.READ, fd, BUF + 8, 16));
        assertEquals("ping", new String(space.copyInBytes(BUF + 8, 4), StandardCharsets.US_ASCII));

        space.copyOutInt(ADDR + 16, 16);
        assertEquals(0, call(Sys.GETPEERNAME, fd, ADDR, ADDR + 16));
        assertArrayEquals(new byte[] {2, 0, (byte) (PORT >> 8), (byte) PORT, 127, 0, 0, 1}, space.copyInBytes(ADDR, 8),
                "the peer is the endpoint's port");
    }

    @Test
    void aReadThatOnlyTheEventCanAnswerStopsTheRunAndIsMadeAgainOnceItIsThere() throws MemoryFault {
        long fd = call(Sys.SOCKET, 2, 1, 0);
        assertEquals(0, connect(fd, 0x7f000001, PORT));
        echo.awaitEvent = true;
        assertEquals(-EINTR, call(Sys.READ, fd, BUF, 16), "never seen by the program");
        assertTrue(kernel.waitingForEvent(), "the run stops there: the snapshot point");

        echo.send("event".getBytes(StandardCharsets.US_ASCII));
        kernel.eventDelivered(new byte[0]);
        assertFalse(kernel.waitingForEvent());
        assertEquals(5, call(Sys.READ, fd, BUF, 16), "the same call, made again, reads the event");
        assertEquals("event", new String(space.copyInBytes(BUF, 5), StandardCharsets.US_ASCII));
    }

    @Test
    void pollWithNothingReadyButAnEndpointWaitingForTheEventStopsTheRun() throws MemoryFault {
        long fd = call(Sys.SOCKET, 2, 1, 0);
        assertEquals(0, connect(fd, 0x7f000001, PORT));
        echo.awaitEvent = true;
        space.copyOutInt(BUF, (int) fd);
        space.copyOutInt(BUF + 4, 1); // POLLIN
        assertEquals(-EINTR, call(Sys.POLL, BUF, 1, -1));
        assertTrue(kernel.waitingForEvent());
    }

    @Test
    void twoEndpointsOnOnePortAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Loopback(new HostMemoryBudget(1 << 20),
                List.of(EchoEndpoint.spec(PORT), EchoEndpoint.spec(PORT))));
    }
}
