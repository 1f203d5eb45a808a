package dev.flicker.guest.kernel;

import dev.flicker.guest.CpuLease;
import dev.flicker.guest.abi.Marshallable;
import dev.flicker.guest.fs.DirectoryDescription;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.guest.net.Loopback;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.security.SecureRandom;
import java.util.List;

import static dev.flicker.guest.abi.Errno.EBADF;
import static dev.flicker.guest.abi.Errno.ENAMETOOLONG;
import static dev.flicker.guest.abi.Errno.ENOENT;
import static dev.flicker.guest.abi.Errno.ENOTDIR;
import static dev.flicker.guest.abi.Fcntl.AT_FDCWD;
import static dev.flicker.guest.abi.PathLimits.NAME_MAX;
import static dev.flicker.guest.abi.PathLimits.PATH_MAX;

/**
 * The program's thread as its system calls see it (gVisor's {@code kernel.Task}): every handler gets it. It
 * reaches the kernel state, the address space, the file tree and the loopback network, and it is the only way to
 * guest memory: copy in (guest to host) and copy out (host to guest), of bytes, numbers, strings and ABI structs.
 * It also blocks: sleeps never pass the run's deadline. Used by one thread at a time, like its VM.
 */
public final class Task {
    /** What the task needs from its vCPU. */
    public interface Cpu {
        void setFsBase(long value);
    }

    private final AddressSpace mm;
    private final KernelState state;
    private final FileTree tree;
    private final Loopback loopback;
    private final Cpu cpu;
    private final SecureRandom random;
    private final Clocks clocks = new Clocks();
    private long deadlineNanos = System.nanoTime() + 10_000_000_000L;
    private CpuLease cpuLease = CpuLease.DEDICATED;
    private boolean exited;
    private int exitStatus;
    /** Where structs are marshalled on their way in and out: the largest is {@code struct utsname}, 390 bytes. */
    private final MemorySegment structBuffer = MemorySegment.ofArray(new long[64]);

    public Task(AddressSpace mm, KernelState state, FileTree tree, Loopback loopback, Cpu cpu, SecureRandom random) {
        this.mm = mm;
        this.state = state;
        this.tree = tree;
        this.loopback = loopback;
        this.cpu = cpu;
        this.random = random;
    }

    /** The address space: mappings and page tables (gVisor's {@code mm.MemoryManager}). */
    public AddressSpace mm() {
        return mm;
    }

    public KernelState state() {
        return state;
    }

    public FdTable fds() {
        return state.fds();
    }

    public FileTree tree() {
        return tree;
    }

    public Loopback loopback() {
        return loopback;
    }

    public Cpu cpu() {
        return cpu;
    }

    public SecureRandom random() {
        return random;
    }

    public Clocks clocks() {
        return clocks;
    }

    // ---- guest memory: copy in (guest to host) and copy out (host to guest) ----

    /** Copies a struct of {@code layout} in from {@code addr}: the bytes stay valid until the next struct is copied. */
    public MemorySegment copyIn(long addr, MemoryLayout layout) throws MemoryFault {
        MemorySegment bytes = structBuffer.asSlice(0, layout.byteSize());
        mm.copyIn(addr, bytes, 0, bytes.byteSize());
        return bytes;
    }

    /** Copies {@code value} out to {@code addr}: all of it, or nothing when a byte is not writable (EFAULT). */
    public void copyOut(long addr, Marshallable value) throws MemoryFault {
        copyOut(addr, value, value.sizeBytes());
    }

    /** Copies the first {@code length} bytes of {@code value} out to {@code addr} (a buffer the program made short). */
    public void copyOut(long addr, Marshallable value, long length) throws MemoryFault {
        MemorySegment bytes = structBuffer.asSlice(0, value.sizeBytes());
        bytes.fill((byte) 0);
        value.marshal(bytes);
        mm.copyOut(addr, bytes, 0, Math.min(length, bytes.byteSize()));
    }

    public void copyOutBytes(long addr, byte[] bytes) throws MemoryFault {
        mm.copyOutBytes(addr, bytes);
    }

    public int copyInInt(long addr) throws MemoryFault {
        return mm.copyInInt(addr);
    }

    public void copyOutInt(long addr, int value) throws MemoryFault {
        mm.copyOutInt(addr, value);
    }

    public void copyOutLong(long addr, long value) throws MemoryFault {
        mm.copyOutLong(addr, value);
    }

    public void copyOutShort(long addr, short value) throws MemoryFault {
        mm.copyOutBytes(addr, new byte[] {(byte) value, (byte) (value >> 8)});
    }

    /** A path argument: NUL-terminated, at most PATH_MAX bytes (a longer one faults, EFAULT). */
    public String copyInPath(long addr) throws MemoryFault {
        return mm.copyInString(addr, PATH_MAX);
    }

    // ---- paths ----

    /**
     * Resolves a path argument against {@code dirfd}, or the working directory for AT_FDCWD, lexically: the parts of
     * the path from the root. An empty path is ENOENT, a component longer than NAME_MAX ENAMETOOLONG.
     */
    public List<String> resolve(long dirfd, long pathPtr) throws MemoryFault, SyscallError {
        String path = copyInPath(pathPtr);
        if (path.isEmpty()) throw new SyscallError(ENOENT);
        if (longestComponentBytes(path) > NAME_MAX) throw new SyscallError(ENAMETOOLONG);
        String base = state.cwd();
        if (!path.startsWith("/") && (int) dirfd != AT_FDCWD) {
            FileDescription d = fds().get(dirfd);
            if (d == null) throw new SyscallError(EBADF);
            if (!(d instanceof DirectoryDescription)) throw new SyscallError(ENOTDIR);
            base = d.path();
        }
        return FileTree.normalize(base, path);
    }

    /** The UTF-8 length of the longest '/'-separated component of {@code path}. */
    static int longestComponentBytes(String path) {
        int longest = 0, current = 0;
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c == '/') {
                current = 0;
                continue;
            }
            current += c < 0x80 ? 1 : c < 0x800 ? 2 : Character.isSurrogate(c) ? 2 : 3; // a surrogate pair is 4
            longest = Math.max(longest, current);
        }
        return longest;
    }

    // ---- blocking and the run's end ----

    /** Sleeps and waits end at this {@link System#nanoTime()}: the run's deadline. */
    public void setDeadline(long nanoTime) {
        deadlineNanos = nanoTime;
    }

    /** The CPU the run is lent: given back while the task blocks in the host. */
    public void setCpuLease(CpuLease cpu) {
        cpuLease = cpu;
    }

    /** Sleeps {@code durationNanos}, never past the deadline. */
    public void sleep(long durationNanos) {
        // Compared as durations from now: nanoTime values themselves may be anywhere, and only differences are safe.
        long now = System.nanoTime();
        sleepUntil(now + Math.max(0, Math.min(durationNanos, deadlineNanos - now)));
    }

    /**
     * Blocks for what only this single-threaded program could bring about (a write's room made by its own reads, a
     * futex wake), which it cannot while it waits: until the deadline, where the run ends.
     */
    public void blockUntilDeadline() {
        sleepUntil(deadlineNanos);
    }

    /**
     * Blocks until {@code nanoTime}. The VM's CPU goes to another VM meanwhile, and is taken back after (the run loop
     * sees it when it is not: a deadline passed, or the owner stopped lending).
     */
    private void sleepUntil(long nanoTime) {
        if (nanoTime - System.nanoTime() <= 0) return;
        cpuLease.release();
        try {
            long left;
            while ((left = nanoTime - System.nanoTime()) > 0) {
                try {
                    Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        } finally {
            cpuLease.acquire(deadlineNanos);
        }
    }

    /** {@code exit} and {@code exit_group}: the run ends with {@code status & 0xff}. */
    public void exit(int status) {
        exited = true;
        exitStatus = status & 0xFF;
    }

    public boolean exited() {
        return exited;
    }

    public int exitStatus() {
        return exitStatus;
    }
}
