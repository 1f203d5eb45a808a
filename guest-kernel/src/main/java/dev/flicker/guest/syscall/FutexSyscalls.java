package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.Futex;
import dev.flicker.guest.abi.Time;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

import static dev.flicker.guest.abi.Errno.EAGAIN;
import static dev.flicker.guest.abi.Errno.EINTR;
import static dev.flicker.guest.abi.Errno.ENOSYS;
import static dev.flicker.guest.abi.Errno.ETIMEDOUT;

/**
 * Futexes (gVisor's {@code sys_futex.go}), for one thread: no other thread can wake a waiter, so a wake wakes nobody
 * and a wait sleeps until its timeout or, without one, until the run's deadline. Wait queues come with threads.
 */
final class FutexSyscalls {
    private FutexSyscalls() {}

    static void register(SyscallTable.Builder.Family f) {
        f.partial(Sys.FUTEX, "futex", "single-threaded: WAKE wakes nobody, WAIT sleeps; other operations are ENOSYS",
                (t, uaddr, op, val, timeout, uaddr2, val3) -> futex(t, uaddr, op, val, timeout));
    }

    private static long futex(Task t, long uaddr, long op, long val, long timeoutPtr) throws MemoryFault {
        int cmd = (int) (op & Futex.FUTEX_CMD_MASK);
        return switch (cmd) {
            case Futex.FUTEX_WAKE, Futex.FUTEX_WAKE_BITSET -> 0;
            case Futex.FUTEX_WAIT, Futex.FUTEX_WAIT_BITSET -> {
                if (t.copyInInt(uaddr) != (int) val) yield -EAGAIN;
                // One thread: nobody can wake it. Honour a timeout; without one it waits until its deadline.
                if (timeoutPtr != 0) {
                    long slept = TimeSyscalls.sleep(t, timeoutPtr, cmd == Futex.FUTEX_WAIT_BITSET, Time.CLOCK_MONOTONIC);
                    yield slept == 0 ? -ETIMEDOUT : slept;
                }
                t.blockUntilDeadline();
                yield -EINTR;
            }
            default -> -ENOSYS;
        };
    }
}
