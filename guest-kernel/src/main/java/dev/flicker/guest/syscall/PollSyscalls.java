package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.PollFd;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.kernel.FdTable;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

import static dev.flicker.guest.abi.Errno.EINVAL;

/**
 * Waiting for descriptors (gVisor's {@code sys_poll.go}): each description says which events it is ready for. It
 * never sleeps: with nothing ready where only the host's event can help (a socket waiting for {@code /next}), the
 * run stops there; otherwise it answers at once.
 */
final class PollSyscalls {
    private PollSyscalls() {}

    static void register(SyscallTable.Builder.Family f) {
        f.partial(Sys.POLL, "poll", "never blocks: the timeout is ignored, so poll cannot be used to sleep",
                (t, fds, nfds, timeout, a3, a4, a5) -> poll(t, fds, nfds));
    }

    private static long poll(Task t, long fdsPtr, long nfds) throws MemoryFault {
        if (nfds < 0 || nfds > FdTable.MAX_FDS) return -EINVAL;
        long ready = 0;
        boolean blockedOnEvent = false;
        for (int i = 0; i < nfds; i++) {
            long at = fdsPtr + PollFd.LAYOUT.byteSize() * i;
            PollFd p = PollFd.unmarshal(t.copyIn(at, PollFd.LAYOUT));
            FileDescription f = p.fd() < 0 ? null : t.fds().get(p.fd());
            int revents;
            if (p.fd() < 0) {
                revents = 0;
            } else if (f == null) {
                revents = PollFd.POLLNVAL;
            } else {
                revents = f.readiness(p.events());
                if (revents == 0 && f.waitsForEvent()) blockedOnEvent = true;
            }
            t.copyOutShort(at + PollFd.REVENTS_OFFSET, (short) revents);
            if (revents != 0) ready++;
        }
        return ready == 0 && blockedOnEvent ? FileDescription.WAIT_FOR_EVENT : ready;
    }
}
