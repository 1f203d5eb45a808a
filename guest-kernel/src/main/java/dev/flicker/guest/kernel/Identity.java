package dev.flicker.guest.kernel;

/**
 * Who the program is: one process of one thread, owned by an unprivileged user. Fixed in the micro guest, so that
 * every clone of a snapshot is the same process; with threads, the tids will be the task's own.
 */
public record Identity(int pid, int ppid, int tid, int uid, int gid) {
    public static final Identity MICRO_GUEST = new Identity(1, 0, 1, 1000, 1000);
}
