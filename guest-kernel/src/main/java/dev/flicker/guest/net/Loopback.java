package dev.flicker.guest.net;

import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.abi.Sockets;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The VM's loopback network: the sockets the program holds, and the endpoints the host serves at
 * {@code 127.0.0.1}, given when the VM was made. There is no other network. Sockets are host memory, so they are
 * limited in number and charged to the VM's host-memory budget, which the endpoints' connections share.
 */
public final class Loopback {
    /** Sockets a VM may hold open at once: each may buffer up to a request body. */
    public static final int MAX_SOCKETS = 64;
    /** What a socket's objects cost the host besides its buffers (which its connection counts itself). */
    private static final int SOCKET_BYTES = 1024;
    /** The port every socket reports as its own. */
    public static final int LOCAL_PORT = 40000;

    private final HostMemoryBudget budget;
    private final List<LoopbackEndpoint.Spec> specs;
    private final List<LoopbackEndpoint> endpoints = new ArrayList<>();
    private int openSockets;
    private long nextSocketInode = 1L << 50;

    /** A network with the VM's {@code endpoints}, one per port, made now and counted in {@code budget}. */
    public Loopback(HostMemoryBudget budget, List<LoopbackEndpoint.Spec> endpoints) {
        this.budget = budget;
        this.specs = List.copyOf(endpoints);
        for (LoopbackEndpoint.Spec spec : specs) {
            if (endpoint(spec.port()) != null) throw new IllegalArgumentException("two endpoints on port " + spec.port());
            this.endpoints.add(spec.factory().apply(budget));
        }
    }

    /** The endpoints this network serves, as they were given. */
    public List<LoopbackEndpoint.Spec> specs() {
        return specs;
    }

    /** The endpoint at {@code 127.0.0.1:port}, or null. */
    public LoopbackEndpoint endpoint(int port) {
        for (int i = 0; i < specs.size() && i < endpoints.size(); i++) if (specs.get(i).port() == port) return endpoints.get(i);
        return null;
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
    public LoopbackEndpoint.Connection connect(int address, int port) {
        LoopbackEndpoint endpoint = address == Sockets.INADDR_LOOPBACK ? endpoint(port) : null;
        return endpoint == null ? null : endpoint.connect();
    }
}
