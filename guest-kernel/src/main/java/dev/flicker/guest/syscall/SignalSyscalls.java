package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.Sigaction;
import dev.flicker.guest.abi.SignalStack;
import dev.flicker.guest.abi.Signals;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

import static dev.flicker.guest.abi.Errno.EINVAL;

/**
 * Signals (gVisor's {@code sys_signal.go}): actions are recorded and returned, never delivered; the micro guest
 * raises no asynchronous signal, and a fault ends the program with its signal in the run's result.
 */
final class SignalSyscalls {
    private SignalSyscalls() {}

    static void register(SyscallTable.Builder.Family f) {
        f.partial(Sys.RT_SIGACTION, "rt_sigaction", "recorded, never delivered",
                (t, sig, act, oldact, sigsetsize, a4, a5) -> rtSigaction(t, sig, act, oldact, sigsetsize));
        f.partial(Sys.RT_SIGPROCMASK, "rt_sigprocmask", "the new mask is ignored and the old one is always empty",
                (t, how, set, oldset, sigsetsize, a4, a5) -> rtSigprocmask(t, oldset, sigsetsize));
        f.partial(Sys.SIGALTSTACK, "sigaltstack", "a new alternate stack is ignored", (t, ss, oldss, a2, a3, a4, a5) -> sigaltstack(t, oldss));
    }

    private static long rtSigaction(Task t, long sig, long act, long oldact, long sigsetsize) throws MemoryFault {
        // SIGKILL's and SIGSTOP's actions can be read, as on Linux, but not changed.
        if (sig < 1 || sig > Signals.NSIG || (act != 0 && (sig == Signals.SIGKILL || sig == Signals.SIGSTOP))
                || sigsetsize != Signals.SIGSET_BYTES) {
            return -EINVAL;
        }
        if (oldact != 0) t.copyOut(oldact, t.state().sigaction((int) sig));
        if (act != 0) t.state().setSigaction((int) sig, Sigaction.unmarshal(t.copyIn(act, Sigaction.LAYOUT)));
        return 0;
    }

    private static long rtSigprocmask(Task t, long oldset, long sigsetsize) throws MemoryFault {
        if (sigsetsize != Signals.SIGSET_BYTES) return -EINVAL;
        if (oldset != 0) t.copyOutLong(oldset, t.state().signalMask());
        return 0;
    }

    private static long sigaltstack(Task t, long oldss) throws MemoryFault {
        if (oldss != 0) t.copyOut(oldss, SignalStack.DISABLED);
        return 0;
    }
}
