package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.ArchPrctl;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.kvm.x86.X86;

import static dev.flicker.guest.abi.Errno.EINVAL;
import static dev.flicker.guest.abi.Errno.EPERM;

/**
 * The program's one thread (gVisor's {@code sys_thread.go}, {@code sys_tls.go}, {@code sys_sched.go},
 * {@code sys_rseq.go}): its id, what libc registers at start-up, its FS base and its CPU. {@code clone} and
 * {@code clone3} are ENOSYS on purpose until the micro guest has threads: a thread then fails to start, cleanly.
 */
final class ThreadSyscalls {
    private ThreadSyscalls() {}

    /** The bytes of {@code struct robust_list_head}, the only length set_robust_list accepts. */
    private static final long ROBUST_LIST_HEAD_BYTES = 24;
    /** One CPU: the affinity mask is one 8-byte word with bit 0 set. */
    private static final long CPU_MASK_BYTES = 8;

    static void register(SyscallTable.Builder.Family f) {
        f.supported(Sys.GETTID, "gettid", (t, a0, a1, a2, a3, a4, a5) -> t.state().identity().tid());
        f.partial(Sys.SET_TID_ADDRESS, "set_tid_address", "the address is not stored",
                (t, tidptr, a1, a2, a3, a4, a5) -> t.state().identity().tid());
        f.partial(Sys.SET_ROBUST_LIST, "set_robust_list", "nothing is stored",
                (t, head, length, a2, a3, a4, a5) -> length == ROBUST_LIST_HEAD_BYTES ? 0 : -EINVAL);
        f.enosys(Sys.RSEQ, "rseq", "so that libc does not register a restartable sequence");
        f.enosys(Sys.CLONE, "clone", "one thread: pthread_create fails (Python: RuntimeError, can't start new thread)");
        f.enosys(Sys.CLONE3, "clone3", "one thread: glibc falls back to clone, which is ENOSYS too");
        f.partial(Sys.ARCH_PRCTL, "arch_prctl", "ARCH_SET_GS, ARCH_GET_GS and other codes are EINVAL",
                (t, code, addr, a2, a3, a4, a5) -> archPrctl(t, code, addr));
        f.supported(Sys.SCHED_YIELD, "sched_yield", (t, a0, a1, a2, a3, a4, a5) -> 0);
        f.partial(Sys.SCHED_GETAFFINITY, "sched_getaffinity", "pid is ignored",
                (t, pid, size, mask, a3, a4, a5) -> schedGetaffinity(t, size, mask));
    }

    private static long archPrctl(Task t, long code, long addr) throws MemoryFault {
        return switch ((int) code) {
            case ArchPrctl.ARCH_SET_FS -> {
                if (!X86.isCanonical(addr)) yield -EPERM;
                t.cpu().setFsBase(addr);
                t.state().setFsBase(addr);
                yield 0;
            }
            case ArchPrctl.ARCH_GET_FS -> {
                t.copyOutLong(addr, t.state().fsBase());
                yield 0;
            }
            default -> -EINVAL; // ARCH_SET_GS, ARCH_GET_GS and every other code
        };
    }

    private static long schedGetaffinity(Task t, long size, long maskPtr) throws MemoryFault {
        if (size < CPU_MASK_BYTES || (size & (CPU_MASK_BYTES - 1)) != 0) return -EINVAL;
        t.copyOutLong(maskPtr, 1); // one CPU
        return CPU_MASK_BYTES;
    }
}
