package dev.flicker.guest.net;

import dev.flicker.guest.HostMemoryBudget;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.function.Function;

/**
 * A service the host serves inside one VM at {@code 127.0.0.1:port}: the guest connects a loopback socket to it and
 * exchanges bytes, and nothing else of the host is reachable. The guest kernel knows only this interface; what an
 * endpoint speaks (the Lambda Runtime API, for one) is its implementer's, above the guest kernel. Whoever runs a VM
 * gives it its endpoints when it is created or restored ({@link Spec}).
 *
 * <p>Everything the guest sends is untrusted. An endpoint bounds what it buffers per connection and counts it in
 * the VM's {@link HostMemoryBudget}, with flow control as a real socket has, so that a guest that writes and never
 * reads is stopped by a full connection, never by the host running out of memory.
 */
public interface LoopbackEndpoint {
    /** A new connection from the guest. */
    Connection connect();

    /**
     * Writes what the endpoint holds besides its connections, for a snapshot (which is taken while the guest waits for
     * its event). Nothing, unless the endpoint says otherwise.
     */
    default void save(DataOutputStream out) throws IOException {
    }

    /** Reads what {@link #save} wrote into this fresh endpoint; snapshot data is untrusted: checked, never trusted. */
    default void load(DataInputStream in) throws IOException {
    }

    /** One connection from the guest: bytes in with flow control, bytes out, readiness, close, and its snapshot state. */
    interface Connection {
        /** {@link #write} results other than a count of bytes taken. */
        int WRITE_CLOSED = -1, WRITE_FULL = -2, WRITE_NO_MEMORY = -3;

        /**
         * Bytes the guest wrote, read where they lie (in guest memory: copy what is kept, and only that). Returns how many were taken (a partial write when the connection's buffers fill),
         * or, when none were: {@link #WRITE_FULL} (nothing fits until the guest reads, EAGAIN), {@link
         * #WRITE_NO_MEMORY} (the VM's budget is spent, ENOMEM) or {@link #WRITE_CLOSED} (the endpoint closed its
         * side, EPIPE).
         */
        int write(MemorySegment bytes);

        /** {@link #write(MemorySegment)} from an array. */
        default int write(byte[] bytes, int offset, int length) {
            return write(MemorySegment.ofArray(bytes).asSlice(offset, length));
        }

        /** How many bytes the guest can read now. */
        int available();

        /** Moves up to {@code length} of the available bytes into {@code into}; returns how many. */
        int read(byte[] into, int offset, int length);

        /** True when the endpoint has closed its side and every byte has been read: a read gets 0. */
        boolean endOfStream();

        /**
         * True when the guest waits here for what only the host can give: its event. A read that finds nothing stops
         * the run there, which is the snapshot point or the end of an invocation; the host then gives the event
         * and the read is made again.
         */
        boolean waitingForEvent();

        /** The guest closed its socket: everything the connection holds goes back to the budget. */
        void close();

        /** The connection's state for a snapshot; an IOException when it cannot be kept (a message half received). */
        void save(DataOutputStream out) throws IOException;

        /** Reads what {@link #save} wrote into this fresh connection. */
        void load(DataInputStream in) throws IOException;
    }

    /**
     * What a VM is given: the port an endpoint serves, its name and the version of the state it saves (both part of
     * a snapshot's kind, so that a snapshot is restored only with the endpoints it was taken with), and how to make
     * the VM's own endpoint, whose memory is counted in the VM's budget.
     */
    record Spec(int port, String name, int stateVersion, Function<HostMemoryBudget, LoopbackEndpoint> factory) {
        public Spec {
            if (port < 1 || port > 65535) throw new IllegalArgumentException("port must be 1..65535, was " + port);
            if (!name.matches("[a-z0-9-]{1,64}")) throw new IllegalArgumentException("bad endpoint name '" + name + "'");
            if (stateVersion < 1) throw new IllegalArgumentException("stateVersion must be positive");
        }
    }
}
