package dev.flicker.guest.syscall;

import dev.flicker.guest.abi.Time;
import dev.flicker.guest.abi.Timespec;
import dev.flicker.guest.abi.Timeval;
import dev.flicker.guest.kernel.Clocks;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

import static dev.flicker.guest.abi.Errno.EINVAL;
import static dev.flicker.guest.abi.Time.NANOS_PER_SECOND;

/**
 * Clocks and sleeping (gVisor's {@code sys_time.go}): always the host's time at the moment of the call, so that a
 * VM restored from a snapshot is never in the past. libc reads the common clocks through the vDSO instead
 * ({@code Vdso}), from a page the host keeps in step with these answers. Sleeps never pass the run's deadline.
 */
final class TimeSyscalls {
    private TimeSyscalls() {}

    static void register(SyscallTable.Builder.Family f) {
        f.partial(Sys.CLOCK_GETTIME, "clock_gettime", "TAI has no leap-second offset; CPU time before a snapshot is not carried",
                (t, clock, ts, a2, a3, a4, a5) -> clockGettime(t, clock, ts));
        f.supported(Sys.CLOCK_GETRES, "clock_getres", (t, clock, res, a2, a3, a4, a5) -> clockGetres(t, clock, res));
        f.partial(Sys.GETTIMEOFDAY, "gettimeofday", "the time zone argument is ignored",
                (t, tv, tz, a2, a3, a4, a5) -> gettimeofday(t, tv));
        f.supported(Sys.TIME, "time", (t, tloc, a1, a2, a3, a4, a5) -> time(t, tloc));
        f.partial(Sys.NANOSLEEP, "nanosleep", "never past the run's deadline; rem is not written",
                (t, req, rem, a2, a3, a4, a5) -> sleep(t, req, false, Time.CLOCK_MONOTONIC));
        f.partial(Sys.CLOCK_NANOSLEEP, "clock_nanosleep", "never past the run's deadline; rem is not written",
                (t, clock, flags, req, rem, a4, a5) -> clockNanosleep(t, clock, flags, req));
    }

    private static long clockGettime(Task t, long clock, long tsPtr) throws MemoryFault {
        long now = t.clocks().nanos(clock);
        if (now < 0) return -EINVAL;
        t.copyOut(tsPtr, Timespec.ofNanos(now));
        return 0;
    }

    private static long clockGetres(Task t, long clock, long tsPtr) throws MemoryFault {
        if (t.clocks().nanos(clock) < 0) return -EINVAL;
        if (tsPtr != 0) t.copyOut(tsPtr, Timespec.ofNanos(1));
        return 0;
    }

    private static long gettimeofday(Task t, long tvPtr) throws MemoryFault {
        if (tvPtr == 0) return 0;
        t.copyOut(tvPtr, Timeval.ofNanos(Clocks.realtimeNanos()));
        return 0;
    }

    private static long time(Task t, long tPtr) throws MemoryFault {
        long seconds = Clocks.realtimeNanos() / NANOS_PER_SECOND;
        if (tPtr != 0) t.copyOutLong(tPtr, seconds);
        return seconds;
    }

    private static long clockNanosleep(Task t, long clock, long flags, long reqPtr) throws MemoryFault {
        if (t.clocks().nanos(clock) < 0) return -EINVAL;
        return sleep(t, reqPtr, (flags & Time.TIMER_ABSTIME) != 0, clock);
    }

    /**
     * Sleeps for the timespec at {@code reqPtr} (relative) or until it on {@code clock} (absolute), never past the
     * deadline; 0, or EINVAL for a timespec out of range.
     */
    static long sleep(Task t, long reqPtr, boolean absolute, long clock) throws MemoryFault {
        Timespec request = Timespec.unmarshal(t.copyIn(reqPtr, Timespec.LAYOUT));
        if (!request.valid()) return -EINVAL;
        long sec = request.seconds();
        long requested = sec > Long.MAX_VALUE / NANOS_PER_SECOND - 1 ? Long.MAX_VALUE / 2 : sec * NANOS_PER_SECOND + request.nanos();
        t.sleep(absolute ? requested - t.clocks().nanos(clock) : requested);
        return 0;
    }
}
