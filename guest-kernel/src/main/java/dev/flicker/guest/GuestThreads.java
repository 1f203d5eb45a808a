package dev.flicker.guest;

import dev.flicker.kvm.sys.Libc;
import dev.flicker.kvm.sys.SysException;

import java.util.concurrent.ThreadFactory;

/**
 * Threads that run VMs, below the platform's own threads in the host's CPU scheduler: each runs at nice
 * {@value #NICE}, so that when a guest spins on a core the host's work on that core (the HTTP requests of every
 * tenant, restores, records) still gets about nine tenths of it (Linux's CFS weighs nice 0 against nice 10 as 1024 to
 * 110), while on a core with nothing else to do a guest runs at full speed. Which VMs run at all is the run slots'
 * business ({@link CpuLease}); this only keeps the guests that run from crowding out the host (docs/decisions.md,
 * decision 28). A VM runs on such a thread from its restore to its end: host calls are the guest's work, too.
 *
 * <p>Raising a thread's nice value needs no privilege and cannot be undone without one, so these threads run guests
 * and nothing else.
 */
public final class GuestThreads {
    /** The nice value of a thread that runs guests; the platform's own threads keep 0. */
    public static final int NICE = 10;
    private static final System.Logger LOG = System.getLogger(GuestThreads.class.getName());

    private GuestThreads() {}

    /** Platform daemon threads named {@code prefix} and a number, each at nice {@value #NICE} from its start. */
    public static ThreadFactory factory(String prefix) {
        ThreadFactory plain = Thread.ofPlatform().name(prefix, 0).daemon().factory();
        return task -> plain.newThread(() -> {
            lowerPriority();
            task.run();
        });
    }

    /** Sets the calling thread to nice {@value #NICE}; a host that refuses leaves it as it was, and says so. */
    static void lowerPriority() {
        try {
            Libc.setThreadNice(NICE);
        } catch (SysException e) {
            LOG.log(System.Logger.Level.WARNING, "a guest thread keeps the platform's priority: " + e.getMessage());
        }
    }
}
