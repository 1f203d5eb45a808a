package dev.flicker.guest.syscall;

import dev.flicker.guest.kernel.SyscallError;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

/** One entry of the system call table: its number, its name, how far it is supported, its family file and its handler. */
public record Syscall(int number, String name, Support support, String family, Handler handler) {
    /**
     * A system call's implementation: the task and the six argument registers in, a value or {@code -errno} out. A bad
     * guest pointer may be thrown as a {@link MemoryFault} (EFAULT), an error from deep in the call as a
     * {@link SyscallError}.
     */
    @FunctionalInterface
    public interface Handler {
        long call(Task t, long a0, long a1, long a2, long a3, long a4, long a5) throws MemoryFault, SyscallError;
    }
}
