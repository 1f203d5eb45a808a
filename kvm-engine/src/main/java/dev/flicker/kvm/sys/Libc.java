package dev.flicker.kvm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The bindings layer: every libc function Flicker calls, looked up once into a {@code static final}
 * method handle. Calls that can fail capture {@code errno} and throw {@link SysException} naming the call
 * and its arguments. Nothing above this package calls native code directly.
 */
public final class Libc {
    private Libc() {}

    public static final int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0x80000;
    public static final int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20,
            MAP_NORESERVE = 0x4000;
    /** madvise: fault pages in writable now (Linux 5.14), a private mapping's copies made as a write would make them. */
    public static final int MADV_POPULATE_WRITE = 23;
    public static final int EINTR = 4, EAGAIN = 11, EINVAL = 22;
    public static final int SIGUSR1 = 10;
    public static final int SIG_BLOCK = 0, SIG_UNBLOCK = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle OPEN = errnoCall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CLOSE = errnoCall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle IOCTL_LONG = errnoCall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL_PTR = errnoCall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MMAP = errnoCall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = errnoCall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MADVISE = errnoCall("madvise", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle MALLOC_TRIM = plainCall("malloc_trim", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle STRERROR = plainCall("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle PTHREAD_SELF = plainCall("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    // pthread_* return the error number instead of setting errno.
    private static final MethodHandle PTHREAD_KILL = plainCall("pthread_kill",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle PTHREAD_SIGMASK = plainCall("pthread_sigmask",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SIGTIMEDWAIT = errnoCall("sigtimedwait",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));

    /** The errno capture buffer of the calling thread; native calls from many threads must not share one. */
    private static final ThreadLocal<MemorySegment> ERRNO_BUFFER =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

    private static MethodHandle errnoCall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol(name), fd, options);
    }

    private static MethodHandle plainCall(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(symbol(name), fd);
    }

    private static MemorySegment symbol(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
    }

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** Returns the errno text, for messages. */
    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cap = ERRNO_BUFFER.get();
            int fd = (int) OPEN.invokeExact(cap, arena.allocateFrom(path), flags);
            if (fd < 0) throw new SysException("open", errno(cap), path);
            return fd;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void close(int fd) {
        try {
            MemorySegment cap = ERRNO_BUFFER.get();
            int rc = (int) CLOSE.invokeExact(cap, fd);
            if (rc < 0) throw new SysException("close", errno(cap), fd);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} with an integer argument; returns the non-negative result. */
    public static int ioctl(int fd, long request, long arg, String name) {
        try {
            MemorySegment cap = ERRNO_BUFFER.get();
            int rc = (int) IOCTL_LONG.invokeExact(cap, fd, request, arg);
            if (rc < 0) throw new SysException(name, errno(cap), fd, arg);
            return rc;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code ioctl(fd, request, struct)}; returns the non-negative result. */
    public static int ioctl(int fd, long request, MemorySegment arg, String name) {
        try {
            MemorySegment cap = ERRNO_BUFFER.get();
            int rc = (int) IOCTL_PTR.invokeExact(cap, fd, request, arg);
            if (rc < 0) throw new SysException(name, errno(cap), fd);
            return rc;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * {@code ioctl(fd, request, 0)} for the vCPU run loop: returns the result or {@code -errno}, never
     * throws and never allocates, so that EINTR (a kick) is an ordinary value.
     */
    public static int ioctlRaw(int fd, long request, MemorySegment errnoCapture) {
        try {
            int rc = (int) IOCTL_LONG.invokeExact(errnoCapture, fd, request, 0L);
            return rc < 0 ? -errno(errnoCapture) : rc;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** A per-thread errno buffer for {@link #ioctlRaw}; a vCPU keeps its own. */
    public static MemorySegment newErrnoCapture(Arena arena) {
        return arena.allocate(CAPTURE);
    }

    public static MemorySegment mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        try {
            MemorySegment cap = ERRNO_BUFFER.get();
            MemorySegment p = (MemorySegment) MMAP.invokeExact(cap, MemorySegment.ofAddress(addr), length, prot, flags,
                    fd, offset);
            if (p.address() == -1L) throw new SysException("mmap", errno(cap), length, prot, flags, fd, offset);
            return p.reinterpret(length);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void munmap(MemorySegment mapping) {
        try {
            MemorySegment cap = ERRNO_BUFFER.get();
            int rc = (int) MUNMAP.invokeExact(cap, mapping, mapping.byteSize());
            if (rc < 0) throw new SysException("munmap", errno(cap), mapping.address(), mapping.byteSize());
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code madvise(addr, length, advice)} over {@code length} bytes of a mapping at {@code addr}. */
    public static void madvise(long addr, long length, int advice) {
        try {
            MemorySegment cap = ERRNO_BUFFER.get();
            int rc = (int) MADVISE.invokeExact(cap, MemorySegment.ofAddress(addr), length, advice);
            if (rc < 0) throw new SysException("madvise", errno(cap), addr, length, advice);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code malloc_trim(pad)}: gives free native heap back to the kernel; true if any was released. */
    public static boolean mallocTrim(long pad) {
        try {
            return (int) MALLOC_TRIM.invokeExact(pad) != 0;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static long pthreadSelf() {
        try {
            return (long) PTHREAD_SELF.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Sends {@code signal} to one thread; returns 0 or the error number (ESRCH if it has ended). */
    public static int pthreadKill(long thread, int signal) {
        try {
            return (int) PTHREAD_KILL.invokeExact(thread, signal);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Blocks or unblocks one signal for the calling thread. */
    public static void pthreadSigmask(int how, int signal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment set = sigset(arena, signal);
            int rc = (int) PTHREAD_SIGMASK.invokeExact(how, set, MemorySegment.NULL);
            if (rc != 0) throw new SysException("pthread_sigmask", rc, how, signal);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Takes a pending, blocked {@code signal} off the calling thread without waiting; true if one was pending. */
    public static boolean takePendingSignal(int signal) {
        try (Arena arena = Arena.ofConfined()) {
            return takePendingSignal(sigset(arena, signal), arena.allocate(16), signal);
        }
    }

    /**
     * {@link #takePendingSignal(int)} with its arguments made once ({@code set} from {@link #newSigset}, and a zero
     * {@code struct timespec} of 16 bytes), so that a run loop takes a signal without allocating.
     */
    public static boolean takePendingSignal(MemorySegment set, MemorySegment zeroTimespec, int signal) {
        try {
            MemorySegment cap = ERRNO_BUFFER.get();
            int rc = (int) SIGTIMEDWAIT.invokeExact(cap, set, MemorySegment.NULL, zeroTimespec);
            if (rc == signal) return true;
            int errno = errno(cap);
            if (errno == EAGAIN || errno == EINTR) return false;
            throw new SysException("sigtimedwait", errno, signal);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** A kernel {@code sigset_t} holding {@code signal}, allocated in {@code arena}. */
    public static MemorySegment newSigset(Arena arena, int signal) {
        return sigset(arena, signal);
    }

    /** A kernel {@code sigset_t} (128 bytes for glibc) holding one signal. */
    private static MemorySegment sigset(Arena arena, int signal) {
        MemorySegment set = arena.allocate(128);
        set.set(ValueLayout.JAVA_LONG, 0, 1L << (signal - 1));
        return set;
    }
}
