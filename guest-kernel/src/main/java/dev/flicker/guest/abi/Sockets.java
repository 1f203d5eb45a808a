package dev.flicker.guest.abi;

/** Address families, socket types and flags (linux/socket.h, linux/net.h), and the loopback address (linux/in.h). */
public final class Sockets {
    private Sockets() {}

    public static final int AF_INET = 2;
    public static final int SOCK_STREAM = 1;
    /** The type in {@code socket}'s type argument; the bits above it are flags. */
    public static final int SOCK_TYPE_MASK = 0xf;
    public static final int SOCK_NONBLOCK = Fcntl.O_NONBLOCK, SOCK_CLOEXEC = Fcntl.O_CLOEXEC;

    /** 127.0.0.1, in host order. */
    public static final int INADDR_LOOPBACK = 0x7f000001;
}
