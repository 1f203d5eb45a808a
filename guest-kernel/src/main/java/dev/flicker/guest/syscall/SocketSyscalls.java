package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.SockaddrIn;
import dev.flicker.guest.abi.Sockets;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.guest.net.Loopback;
import dev.flicker.guest.net.LoopbackEndpoint;
import dev.flicker.guest.net.LoopbackSocket;

import java.lang.foreign.MemoryLayout;

import static dev.flicker.guest.abi.Errno.*;

/**
 * Sockets (gVisor's {@code sys_socket.go}): TCP sockets on the VM's loopback network, whose only peers are the
 * endpoints the host serves there. There is no other network. Reads and writes of a socket are the description's,
 * as for files.
 */
final class SocketSyscalls {
    private SocketSyscalls() {}

    /** {@code SO_ERROR} and every other option read back as one int, 0. */
    private static final int OPTION_BYTES = 4;

    static void register(SyscallTable.Builder.Family f) {
        f.partial(Sys.SOCKET, "socket", "AF_INET and SOCK_STREAM only; at most 64 per VM",
                (t, domain, type, protocol, a3, a4, a5) -> socket(t, domain, type));
        f.partial(Sys.CONNECT, "connect", "only the VM's loopback endpoints answer; everything else is ECONNREFUSED",
                (t, fd, addr, addrlen, a3, a4, a5) -> connect(t, fd, addr, addrlen));
        f.partial(Sys.SENDTO, "sendto", "as write: flags and a destination are ignored",
                (t, fd, buf, len, flags, addr, addrlen) -> ReadWriteSyscalls.write(t, fd, buf, len));
        f.partial(Sys.RECVFROM, "recvfrom", "as read: flags are ignored",
                (t, fd, buf, len, flags, addr, addrlen) -> recvfrom(t, fd, buf, len, addr, addrlen));
        f.partial(Sys.SHUTDOWN, "shutdown", "accepted on a socket, with no effect",
                (t, fd, how, a2, a3, a4, a5) -> t.fds().get(fd) == null ? -EBADF : t.fds().get(fd) instanceof LoopbackSocket ? 0 : -ENOTSOCK);
        f.partial(Sys.GETSOCKNAME, "getsockname", "always 127.0.0.1:40000",
                (t, fd, addr, addrlen, a3, a4, a5) -> sockname(t, fd, addr, addrlen, false));
        f.partial(Sys.GETPEERNAME, "getpeername", "127.0.0.1 and the endpoint's port",
                (t, fd, addr, addrlen, a3, a4, a5) -> sockname(t, fd, addr, addrlen, true));
        f.partial(Sys.SETSOCKOPT, "setsockopt", "accepted and ignored",
                (t, fd, level, name, value, len, a5) -> t.fds().get(fd) == null ? -EBADF : 0);
        f.partial(Sys.GETSOCKOPT, "getsockopt", "every option reads back as 0",
                (t, fd, level, name, value, len, a5) -> getsockopt(t, fd, value, len));
    }

    private static long socket(Task t, long domain, long type) {
        if (domain != Sockets.AF_INET) return -EAFNOSUPPORT;
        if ((type & Sockets.SOCK_TYPE_MASK) != Sockets.SOCK_STREAM) return -EPROTONOSUPPORT;
        Loopback net = t.loopback();
        // The VM is the whole system: its socket limit is a system-wide one (ENFILE), its budget its memory.
        if (net.socketLimitReached()) return -ENFILE;
        LoopbackSocket s = net.socket((int) (type & Sockets.SOCK_NONBLOCK));
        if (s == null) return -ENOMEM;
        int fd = t.fds().install(s, 0, (type & Sockets.SOCK_CLOEXEC) != 0);
        return fd < 0 ? -EMFILE : fd;
    }

    private static long connect(Task t, long fd, long addrPtr, long addrLen) throws MemoryFault {
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        if (!(f instanceof LoopbackSocket sock)) return -ENOTSOCK;
        if (addrLen < SockaddrIn.ADDRESS_BYTES) return -EINVAL;
        SockaddrIn address = SockaddrIn.unmarshal(t.copyIn(addrPtr, MemoryLayout.paddingLayout(SockaddrIn.ADDRESS_BYTES)));
        if (address.family() != Sockets.AF_INET) return -EAFNOSUPPORT;
        if (sock.connection() != null) return -EISCONN;
        LoopbackEndpoint.Connection connection = t.loopback().connect(address.address(), address.port());
        if (connection == null) return -ECONNREFUSED;
        sock.connected(connection, address.port());
        return 0;
    }

    private static long recvfrom(Task t, long fd, long buf, long len, long srcAddr, long addrLenPtr) throws MemoryFault {
        long r = ReadWriteSyscalls.read(t, fd, buf, len);
        if (r >= 0 && srcAddr != 0 && addrLenPtr != 0) sockname(t, fd, srcAddr, addrLenPtr, true);
        return r;
    }

    /** getsockname and getpeername: as Linux, the address is cut to the caller's buffer, and the length is the whole. */
    private static long sockname(Task t, long fd, long addrPtr, long lenPtr, boolean peer) throws MemoryFault {
        FileDescription f = t.fds().get(fd);
        if (f == null) return -EBADF;
        if (!(f instanceof LoopbackSocket sock)) return -ENOTSOCK;
        if (peer && sock.connection() == null) return -ENOTCONN;
        int len = t.copyInInt(lenPtr);
        if (len < 0) return -EINVAL;
        SockaddrIn address = new SockaddrIn(Sockets.AF_INET, peer ? sock.peerPort() : Loopback.LOCAL_PORT,
                Sockets.INADDR_LOOPBACK);
        t.copyOut(addrPtr, address, len);
        t.copyOutInt(lenPtr, (int) address.sizeBytes());
        return 0;
    }

    private static long getsockopt(Task t, long fd, long valPtr, long lenPtr) throws MemoryFault {
        if (t.fds().get(fd) == null) return -EBADF;
        if (valPtr != 0 && lenPtr != 0 && t.copyInInt(lenPtr) >= OPTION_BYTES) {
            t.copyOutInt(valPtr, 0); // SO_ERROR and friends: no error, option off
            t.copyOutInt(lenPtr, OPTION_BYTES);
        }
        return 0;
    }
}
