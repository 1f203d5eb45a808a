package dev.flicker.guest.net;

import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.abi.Sockets;
import dev.flicker.guest.runtime.RuntimeApi;

import java.io.IOException;

/**
 * The VM's loopback network: the sockets the program holds and the one peer they can reach, the Runtime API on
 * 127.0.0.1:9001. There is no other network. Sockets are host memory, so they are limited in number and charged to
 * the VM's host-memory budget, which their connections share.
 */
public final class Loopback {
    /** Sockets a VM may hold open at once: each may buffer up to a request body. */
    public static final int MAX_SOCKETS = 64;
    /** What a socket's objects cost the host besides its buffers (which its connection counts itself). */
    private static final int SOCKET_BYTES = 1024;
    /** The port every socket reports as its own. */
    public static final int LOCAL_PORT = 40000;

    private final HostMemoryBudget budget;
    private final RuntimeApi runtimeApi;
    private int openSockets;
    private long nextSocketInode = 1L << 50;

    public Loopback(HostMemoryBudget budget) {
        this.budget = budget;
        this.runtimeApi = new RuntimeApi(budget);
    }

    public RuntimeApi runtimeApi() {
        return runtimeApi;
    }

    /** Sockets open now. */
    public int openSockets() {
        return openSockets;
    }

    /** True when the VM holds {@link #MAX_SOCKETS}: the VM is the whole system, so its limit is a system-wide one. */
    public boolean socketLimitReached() {
        return openSockets >= MAX_SOCKETS;
    }

    /** A new socket with its place charged, or null when the VM's host-memory budget has no room for it. */
    public LoopbackSocket socket(int statusFlags) {
        if (!budget.tryCharge(SOCKET_BYTES)) return null;
        return newSocket(statusFlags);
    }

    /** A socket of a snapshot being restored: counted even past the budget, which the snapshot already kept. */
    public LoopbackSocket restoredSocket(int statusFlags) throws IOException {
        if (socketLimitReached()) throw new IOException("more than " + MAX_SOCKETS + " sockets");
        budget.charge(SOCKET_BYTES);
        return newSocket(statusFlags);
    }

    private LoopbackSocket newSocket(int statusFlags) {
        openSockets++;
        return new LoopbackSocket(nextSocketInode++, statusFlags, () -> {
            openSockets--;
            budget.release(SOCKET_BYTES);
        });
    }

    /** A connection to {@code address}:{@code port} (host order), or null: nothing listens there (ECONNREFUSED). */
    public RuntimeApi.Connection connect(int address, int port) {
        if (address != Sockets.INADDR_LOOPBACK || port != RuntimeApi.PORT) return null;
        return runtimeApi.connect();
    }
}
