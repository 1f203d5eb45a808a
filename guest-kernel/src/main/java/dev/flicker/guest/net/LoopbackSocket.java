package dev.flicker.guest.net;

import dev.flicker.guest.abi.Fcntl;
import dev.flicker.guest.abi.FileMode;
import dev.flicker.guest.abi.PollFd;
import dev.flicker.guest.fs.AnonymousInode;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.Inode;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import java.lang.foreign.MemorySegment;

import static dev.flicker.guest.abi.Errno.EAGAIN;
import static dev.flicker.guest.abi.Errno.ENOMEM;
import static dev.flicker.guest.abi.Errno.ENOTCONN;
import static dev.flicker.guest.abi.Errno.EPIPE;

/** A TCP socket of the guest; the only peers it can reach are the VM's loopback endpoints. */
public final class LoopbackSocket extends FileDescription {
    private final Inode inode;
    private final Loopback network;
    /** The connection once connected, else null. */
    private LoopbackEndpoint.Connection connection;
    private int peerPort;

    LoopbackSocket(Loopback network, long ino, int statusFlags) {
        super("socket:", Fcntl.O_RDWR | statusFlags);
        this.inode = new AnonymousInode(ino, FileMode.S_IFSOCK | 0777);
        this.network = network;
    }

    public LoopbackEndpoint.Connection connection() {
        return connection;
    }

    /** The port this socket is connected to (its peer's, in getpeername). */
    public int peerPort() {
        return peerPort;
    }

    public void connected(LoopbackEndpoint.Connection connection, int port) {
        this.connection = connection;
        this.peerPort = port;
    }

    @Override
    public Inode inode() {
        return inode;
    }

    @Override
    public boolean seekable() {
        return false;
    }

    /**
     * The answer bytes. With none ready: the run stops if the program waits for its event; after the server closed
     * its side, 0 (the end of the stream); otherwise EAGAIN (non-blocking) or 0.
     */
    @Override
    public long read(AddressSpace mm, long buf, int count) throws MemoryFault {
        if (connection == null) return -ENOTCONN;
        int available = connection.available();
        if (available == 0) {
            if (connection.waitingForEvent()) return WAIT_FOR_EVENT; // the snapshot point, or the end of an invocation
            if (connection.endOfStream()) return 0;
            return nonBlocking() ? -EAGAIN : 0;
        }
        byte[] bytes = new byte[Math.min(count, available)];
        int got = connection.read(bytes, 0, bytes.length);
        mm.copyOut(buf, MemorySegment.ofArray(bytes), 0, got);
        return got;
    }

    /**
     * Bytes to the server, as many as its flow control takes. None taken, because it reads no more until the program
     * reads its answers, is EAGAIN: the system call then blocks a blocking socket. The server reads them in place, a
     * page at a time, and copies only what it keeps: a program that writes much that is refused costs no copies.
     * A bad buffer is EFAULT, or the count written before it, as Linux answers.
     */
    @Override
    public long write(AddressSpace mm, long buf, int count) throws MemoryFault {
        if (connection == null) return -ENOTCONN;
        long written = 0;
        while (written < count) {
            MemorySegment span;
            try {
                span = mm.readableSpan(buf + written, count - written);
            } catch (MemoryFault fault) {
                if (written > 0) return written;
                throw fault;
            }
            int taken = connection.write(span);
            if (taken > 0) written += taken;
            if (taken < span.byteSize()) return written > 0 ? written : refused(taken);
        }
        return count == 0 ? refused(connection.write(MemorySegment.NULL)) : written;
    }

    /** The errno of a write none of whose bytes were taken. */
    private static long refused(int taken) {
        if (taken >= 0) return taken;
        return switch (taken) {
            case LoopbackEndpoint.Connection.WRITE_CLOSED -> -EPIPE;
            case LoopbackEndpoint.Connection.WRITE_NO_MEMORY -> -ENOMEM;
            default -> -EAGAIN;
        };
    }

    @Override
    public int readiness(int events) {
        if (connection == null) return super.readiness(events);
        boolean readable = connection.available() > 0 || connection.endOfStream();
        return (readable ? events & PollFd.POLLIN : 0) | (events & PollFd.POLLOUT);
    }

    @Override
    public boolean waitsForEvent() {
        return connection != null && connection.waitingForEvent();
    }

    @Override
    protected void release() {
        if (connection != null) connection.close();
        network.released(this);
    }
}
