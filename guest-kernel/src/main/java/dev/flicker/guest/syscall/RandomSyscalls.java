package dev.flicker.guest.syscall;

import dev.flicker.guest.fs.DeviceDescription;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.MemoryFault;

import static dev.flicker.guest.abi.Errno.EINVAL;

/**
 * Randomness (gVisor's {@code sys_random.go}): the host's, at the moment of the call, so that clones of one snapshot
 * never share it.
 */
final class RandomSyscalls {
    private RandomSyscalls() {}

    static void register(SyscallTable.Builder.Family f) {
        f.partial(Sys.GETRANDOM, "getrandom", "flags are ignored; never blocks; at most 64 KiB per call",
                (t, buf, count, flags, a3, a4, a5) -> getrandom(t, buf, count));
    }

    private static long getrandom(Task t, long buf, long count) throws MemoryFault {
        if (count < 0) return -EINVAL;
        byte[] bytes = DeviceDescription.Random.bytes(t.random(), count);
        t.copyOutBytes(buf, bytes);
        return bytes.length;
    }
}
