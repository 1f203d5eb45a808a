package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.Rlimit;
import dev.flicker.guest.abi.Sysinfo;
import dev.flicker.guest.abi.Utsname;
import dev.flicker.guest.kernel.FdTable;
import dev.flicker.guest.kernel.Identity;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

import static dev.flicker.guest.abi.Errno.EINVAL;
import static dev.flicker.guest.abi.Errno.ESRCH;

/**
 * The process (gVisor's {@code sys_identity.go}, {@code sys_rlimit.go}, {@code sys_utsname.go},
 * {@code sys_sysinfo.go} and the exits of {@code sys_thread.go}): who it is, its limits, the system it runs on, and
 * its end.
 */
final class ProcessSyscalls {
    private ProcessSyscalls() {}

    private static final Utsname UTSNAME = new Utsname("Linux", "flicker", "6.1.0-flicker", "#1 SMP flicker micro guest",
            "x86_64", "(none)");

    static void register(SyscallTable.Builder.Family f) {
        f.supported(Sys.GETPID, "getpid", (t, a0, a1, a2, a3, a4, a5) -> id(t).pid());
        f.supported(Sys.GETPPID, "getppid", (t, a0, a1, a2, a3, a4, a5) -> id(t).ppid());
        f.supported(Sys.GETUID, "getuid", (t, a0, a1, a2, a3, a4, a5) -> id(t).uid());
        f.supported(Sys.GETGID, "getgid", (t, a0, a1, a2, a3, a4, a5) -> id(t).gid());
        f.supported(Sys.GETEUID, "geteuid", (t, a0, a1, a2, a3, a4, a5) -> id(t).uid());
        f.supported(Sys.GETEGID, "getegid", (t, a0, a1, a2, a3, a4, a5) -> id(t).gid());
        f.partial(Sys.EXIT, "exit", "the same as exit_group: there is one thread", (t, status, a1, a2, a3, a4, a5) -> exit(t, status));
        f.supported(Sys.EXIT_GROUP, "exit_group", (t, status, a1, a2, a3, a4, a5) -> exit(t, status));
        f.enosys(Sys.FORK, "fork", "one process per VM: Python's os.fork raises OSError (ENOSYS)");
        f.enosys(Sys.VFORK, "vfork", "one process per VM");
        f.supported(Sys.UNAME, "uname", (t, buf, a1, a2, a3, a4, a5) -> uname(t, buf));
        f.partial(Sys.SYSINFO, "sysinfo", "loads, swap and the other fields are 0", (t, info, a1, a2, a3, a4, a5) -> sysinfo(t, info));
        f.supported(Sys.GETRLIMIT, "getrlimit", (t, resource, rlim, a2, a3, a4, a5) -> rlimit(t, resource, rlim));
        f.partial(Sys.PRLIMIT64, "prlimit64", "new limits are accepted and ignored",
                (t, pid, resource, newLimit, oldLimit, a4, a5) ->
                        pid != 0 && pid != id(t).pid() ? -ESRCH : rlimit(t, resource, oldLimit));
    }

    private static Identity id(Task t) {
        return t.state().identity();
    }

    private static long exit(Task t, long status) {
        t.exit((int) status);
        return 0;
    }

    private static long uname(Task t, long ptr) throws MemoryFault {
        t.copyOut(ptr, UTSNAME);
        return 0;
    }

    /** Uptime from this VM's boot or restore; the memory limit and what it leaves free; one process. */
    private static long sysinfo(Task t, long ptr) throws MemoryFault {
        long limit = t.mm().limitBytes();
        t.copyOut(ptr, new Sysinfo(t.clocks().uptimeSeconds(), limit, limit - t.mm().committedBytes(), 1, 1));
        return 0;
    }

    /** The limits the micro guest enforces (descriptors, memory, the stack it mapped); the rest are unlimited. */
    private static long rlimit(Task t, long resource, long oldPtr) throws MemoryFault {
        if (resource < 0 || resource >= Rlimit.RLIM_NLIMITS) return -EINVAL;
        if (oldPtr != 0) {
            long current = switch ((int) resource) {
                case Rlimit.RLIMIT_NOFILE -> FdTable.MAX_FDS;
                case Rlimit.RLIMIT_AS, Rlimit.RLIMIT_DATA -> t.mm().limitBytes();
                case Rlimit.RLIMIT_STACK -> t.state().stackLimitBytes();
                default -> Rlimit.RLIM_INFINITY;
            };
            t.copyOut(oldPtr, new Rlimit(current, current));
        }
        return 0;
    }
}
