package dev.flicker.guest.net;

import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.StatePart;
import dev.flicker.guest.abi.Sockets;

import java.io.DataInputStream;
import java.io.DataOutputStream;
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
    /** The layout of what {@link #save} writes; each endpoint's own state has its endpoint's version. */
    public static final int STATE_VERSION = 1;
    private static final String STATE_PART = "loopback";
    /** A socket's peer port in the snapshot when it is not connected. */
    private static final int NOT_CONNECTED = -1;

    private final HostMemoryBudget budget;
    private final List<LoopbackEndpoint.Spec> specs;
    private final List<LoopbackEndpoint> endpoints = new ArrayList<>();
    /** The sockets open now, oldest first: a snapshot names them by their place here. */
    private final List<LoopbackSocket> sockets = new ArrayList<>();
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

    /** The endpoint at {@code 127.0.0.1:port}, or null. */
    public LoopbackEndpoint endpoint(int port) {
        for (int i = 0; i < endpoints.size(); i++) if (specs.get(i).port() == port) return endpoints.get(i);
        return null;
    }

    /** Sockets open now. */
    public int openSockets() {
        return sockets.size();
    }

    /** True when the VM holds {@link #MAX_SOCKETS}: the VM is the whole system, so its limit is a system-wide one. */
    public boolean socketLimitReached() {
        return sockets.size() >= MAX_SOCKETS;
    }

    /** A new socket with its place charged, or null when the VM's host-memory budget has no room for it. */
    public LoopbackSocket socket(int statusFlags) {
        if (!budget.tryCharge(SOCKET_BYTES)) return null;
        return newSocket(statusFlags);
    }

    private LoopbackSocket newSocket(int statusFlags) {
        LoopbackSocket s = new LoopbackSocket(this, nextSocketInode++, statusFlags);
        sockets.add(s);
        return s;
    }

    /** {@code socket} was released (its last descriptor closed): its place and its room go back. */
    void released(LoopbackSocket socket) {
        sockets.remove(socket);
        budget.release(SOCKET_BYTES);
    }

    /** A connection to {@code address}:{@code port} (host order), or null: nothing listens there (ECONNREFUSED). */
    public LoopbackEndpoint.Connection connect(int address, int port) {
        LoopbackEndpoint endpoint = address == Sockets.INADDR_LOOPBACK ? endpoint(port) : null;
        return endpoint == null ? null : endpoint.connect();
    }

    // ---- state for snapshots ----

    /** Where {@code socket} stands in this network's snapshot: how the descriptor table names it. */
    public int indexOf(LoopbackSocket socket) {
        return sockets.indexOf(socket);
    }

    /** The socket a snapshot names by {@code index}, once {@link #load} made it. */
    public LoopbackSocket socketAt(int index) throws IOException {
        if (index < 0 || index >= sockets.size()) throw new IOException("bad socket " + index);
        return sockets.get(index);
    }

    /**
     * Writes the network's part of a snapshot: each endpoint (port, name and state version, then its own state) and
     * each socket (the port it is connected to, then its connection's state).
     */
    public void save(DataOutputStream out) throws IOException {
        StatePart.writeHeader(out, STATE_PART, STATE_VERSION);
        out.writeInt(specs.size());
        for (int i = 0; i < specs.size(); i++) {
            LoopbackEndpoint.Spec spec = specs.get(i);
            out.writeInt(spec.port());
            out.writeUTF(spec.name());
            out.writeInt(spec.stateVersion());
            endpoints.get(i).save(out);
        }
        out.writeInt(sockets.size());
        for (LoopbackSocket s : sockets) {
            out.writeInt(s.connection() == null ? NOT_CONNECTED : s.peerPort());
            if (s.connection() != null) s.connection().save(out);
        }
    }

    /**
     * Reads what {@link #save} wrote into this fresh network, whose endpoints must be the ones the snapshot was taken
     * with (port, name and state version); the sockets are made again, counted even past the budget, which the
     * snapshot's VM kept.
     */
    public void load(DataInputStream in) throws IOException {
        StatePart.readHeader(in, STATE_PART, STATE_VERSION);
        int n = in.readInt();
        if (n != specs.size()) {
            throw new IOException("the snapshot was taken with " + n + " loopback endpoints, this VM has " + specs.size());
        }
        for (int i = 0; i < n; i++) {
            LoopbackEndpoint.Spec spec = specs.get(i);
            int port = in.readInt();
            String name = in.readUTF();
            int version = in.readInt();
            if (port != spec.port() || !name.equals(spec.name()) || version != spec.stateVersion()) {
                throw new IOException("the snapshot's loopback endpoint " + name + " on port " + port + " (state version "
                        + version + ") is not this VM's " + spec.name() + " on port " + spec.port() + " (state version "
                        + spec.stateVersion() + "): take a new snapshot");
            }
            endpoints.get(i).load(in);
        }
        int m = in.readInt();
        if (m < 0 || m > MAX_SOCKETS) throw new IOException("bad socket count " + m);
        for (int i = 0; i < m; i++) {
            int port = in.readInt();
            budget.charge(SOCKET_BYTES);
            LoopbackSocket socket = newSocket(0); // its flags are its description's, which the kernel state restores
            if (port != NOT_CONNECTED) {
                LoopbackEndpoint.Connection connection = connect(Sockets.INADDR_LOOPBACK, port);
                if (connection == null) throw new IOException("a socket is connected to port " + port + ", where this VM has no endpoint");
                socket.connected(connection, port);
                connection.load(in);
            }
        }
    }
}
