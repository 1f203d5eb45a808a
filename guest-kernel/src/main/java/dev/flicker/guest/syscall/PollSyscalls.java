package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.PollFd;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.kernel.FdTable;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

import java.util.concurrent.TimeUnit;

import static dev.flicker.guest.abi.Errno.EINVAL;

/**
 * Waiting for descriptors (gVisor's {@code sys_poll.go}): each description says which events it is ready for. With
 * nothing ready where only the host's event can help (a socket waiting for {@code /next}), the run stops there.
 * Otherwise nothing can become ready while the program waits (it has one thread, and its loopback endpoints answer
 * as soon as it writes), so a poll with nothing ready sleeps its whole timeout and returns 0, never past the run's
 * deadline; a negative timeout sleeps until the deadline.
 */
final class PollSyscalls {
    private PollSyscalls() {}

    static void register(SyscallTable.Builder.Family f) {
        f.partial(Sys.POLL, "poll", "with nothing ready, the whole timeout is slept (nothing can become ready meanwhile)",
                (t, fds, nfds, timeout, a3, a4, a5) -> poll(t, fds, nfds, (int) timeout));
        f.enosys(Sys.EPOLL_CREATE, "epoll_create", "no epoll yet");
        f.enosys(Sys.EPOLL_CREATE1, "epoll_create1", "no epoll yet: Python's selectors falls back to poll");
    }

    private static long poll(Task t, long fdsPtr, long nfds, int timeoutMillis) throws MemoryFault {
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
        if (ready == 0 && blockedOnEvent) return FileDescription.WAIT_FOR_EVENT;
        if (ready == 0 && timeoutMillis < 0) t.blockUntilDeadline();
        if (ready == 0 && timeoutMillis > 0) t.sleep(TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
        return ready;
    }
}
