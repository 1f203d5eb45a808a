package dev.flicker.guest.syscall;

import dev.flicker.guest.CpuLease;
import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.OutputCapture;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.kernel.FdTable;
import dev.flicker.guest.kernel.KernelState;
import dev.flicker.guest.kernel.SyscallError;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.guest.net.Loopback;
import dev.flicker.guest.net.LoopbackEndpoint;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.security.SecureRandom;

import static dev.flicker.guest.abi.Errno.EFAULT;
import static dev.flicker.guest.abi.Errno.EINTR;
import static dev.flicker.guest.abi.Errno.ENOSYS;

/**
 * The host half of the micro guest's kernel for one program: every system call the program makes arrives here as
 * (number, six arguments) and returns a value or {@code -errno}. The number picks the handler from the
 * {@link SyscallTable} (an array lookup); the handler works on the program's {@link Task}. A bad guest pointer is
 * EFAULT, never a host exception. Calls the table does not hold return ENOSYS and are counted. See
 * docs/syscalls.md for the table.
 */
public final class HostKernel {
    private static final SyscallTable TABLE = SyscallTable.X86_64;
    /** {@code -Dflicker.trace=true} prints every call and its result to the host's stderr, like strace. */
    private static final boolean TRACE = Boolean.getBoolean("flicker.trace");

    private final Task task;
    private final KernelState state;
    private final Loopback loopback;
    private final long[] counts = new long[SyscallTable.SLOTS];
    private long unknownCalls;
    private boolean waitingForEvent;

    /**
     * The kernel of a program whose memory is {@code memory}, whose files are {@code tree} and whose loopback network
     * is {@code loopback} (both sharing the VM's host-memory budget); its stdin holds {@code stdin}, or null until the
     * event is given.
     */
    public HostKernel(AddressSpace memory, FileTree tree, Loopback loopback, byte[] stdin, OutputCapture stdout,
                      OutputCapture stderr, Task.Cpu cpu, SecureRandom random, String executablePath) {
        this.state = new KernelState(stdin, stdout, stderr, tree.tmp().budget(), executablePath);
        this.loopback = loopback;
        this.task = new Task(memory, state, tree, loopback, cpu, random);
    }

    /** Handles one system call; returns the value for rax. */
    public long handle(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
        int counted = nr >= 0 && nr < SyscallTable.SLOTS - 1 ? (int) nr : SyscallTable.SLOTS - 1;
        counts[counted]++;
        Syscall call = TABLE.lookup(nr);
        long result;
        if (call == null) {
            unknownCalls++;
            result = -ENOSYS;
        } else {
            try {
                result = call.handler().call(task, a0, a1, a2, a3, a4, a5);
            } catch (MemoryFault f) {
                result = -EFAULT;
            } catch (SyscallError e) {
                result = -e.errno();
            }
        }
        if (result == FileDescription.WAIT_FOR_EVENT) {
            waitingForEvent = true; // the run loop stops before answering: the program never sees this
            result = -EINTR;
        }
        if (TRACE) {
            System.err.printf("[guest] %s(%x, %x, %x, %x, %x, %x) = %d%n", TABLE.name(counted), a0, a1, a2, a3, a4, a5,
                    result);
        }
        return result;
    }

    /**
     * True after the program asked for its event (a read of stdin, or a read where a loopback endpoint waits for it)
     * before it was given: the run loop stops there without answering the call. That call is the snapshot point.
     */
    public boolean waitingForEvent() {
        return waitingForEvent;
    }

    /**
     * The event has come: stdin gets {@code stdinEvent} (unless it holds one already), and the endpoint the program
     * waits on has been given the event by its owner. The caller then answers the pending call by handling it again.
     */
    public void eventDelivered(byte[] stdinEvent) {
        state.stdin().provide(stdinEvent);
        waitingForEvent = false;
    }

    /** Sleeps and waits end at this {@link System#nanoTime()}: the run's deadline. */
    public void setDeadline(long nanoTime) {
        task.setDeadline(nanoTime);
    }

    /** The CPU the run is lent ({@link CpuLease}): a program that blocks in the host gives it back while it waits. */
    public void setCpuLease(CpuLease cpu) {
        task.setCpuLease(cpu);
    }

    public void setBrk(long start) {
        state.setBrkStart(start);
    }

    /** The size of the stack the loader mapped, which getrlimit(RLIMIT_STACK) reports (Linux's 8 MiB until set). */
    public void setStackLimit(long bytes) {
        state.setStackLimitBytes(bytes);
    }

    public boolean exited() {
        return task.exited();
    }

    public int exitStatus() {
        return task.exitStatus();
    }

    /** Calls made, by number (the last slot counts numbers past the others). */
    public long[] counts() {
        return counts.clone();
    }

    public long unknownCalls() {
        return unknownCalls;
    }

    public FdTable files() {
        return state.fds();
    }

    /** The VM's host-memory budget (shared with its /tmp). */
    public HostMemoryBudget hostMemory() {
        return state.hostMemory();
    }

    /** Sockets open now. */
    public int openSockets() {
        return loopback.openSockets();
    }

    /** The loopback endpoint at {@code 127.0.0.1:port}, or null. */
    public LoopbackEndpoint endpoint(int port) {
        return loopback.endpoint(port);
    }

    /** The run loop calls this when it starts running this VM on the current thread ... */
    public void runStarted() {
        task.clocks().runStarted();
    }

    /** ... and this when it stops. */
    public void runEnded() {
        task.clocks().runEnded();
    }

    /** Writes the kernel state's part of a snapshot ({@link KernelState#save}). */
    public void save(DataOutputStream out) throws IOException {
        state.save(out, task.tree(), loopback);
    }

    /**
     * Reads the kernel state's part into this fresh kernel, once /tmp and the loopback network are loaded: the
     * program then waits, as when the snapshot was taken, in its pending request for the event.
     */
    public void load(DataInputStream in) throws IOException {
        state.load(in, task.tree(), loopback);
        task.cpu().setFsBase(state.fsBase());
        waitingForEvent = true;
    }
}
