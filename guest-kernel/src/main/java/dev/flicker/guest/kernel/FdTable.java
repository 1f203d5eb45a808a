package dev.flicker.guest.kernel;

import dev.flicker.guest.fs.FileDescription;

/**
 * The program's file descriptors (gVisor's {@code kernel.FDTable}): 0 to {@link #MAX_FDS}-1, each an open file
 * description and a close-on-exec bit. Each descriptor holds a reference to its description, which is released
 * when its last descriptor goes.
 */
public final class FdTable {
    public static final int MAX_FDS = 1024;
    private final FileDescription[] files = new FileDescription[MAX_FDS];
    private final boolean[] closeOnExec = new boolean[MAX_FDS];

    public FileDescription get(long fd) {
        return fd >= 0 && fd < MAX_FDS ? files[(int) fd] : null;
    }

    /**
     * Installs {@code file} at the lowest free descriptor at or above {@code from}; -1 if none is free, and then a
     * description no descriptor refers to is released, as its opener has no other way to give it back.
     */
    public int install(FileDescription file, int from, boolean cloexec) {
        for (int fd = Math.max(0, from); fd < MAX_FDS; fd++) {
            if (files[fd] == null) {
                installAt(fd, file, cloexec);
                return fd;
            }
        }
        file.discard();
        return -1;
    }

    /** Makes {@code fd} refer to {@code file}, closing what it referred to before. */
    public void installAt(int fd, FileDescription file, boolean cloexec) {
        file.incRef();
        FileDescription replaced = files[fd];
        files[fd] = file;
        closeOnExec[fd] = cloexec;
        if (replaced != null) replaced.decRef();
    }

    public boolean close(long fd) {
        FileDescription file = get(fd);
        if (file == null) return false;
        files[(int) fd] = null;
        file.decRef();
        return true;
    }

    public boolean closeOnExec(int fd) {
        return closeOnExec[fd];
    }

    public void setCloseOnExec(int fd, boolean value) {
        closeOnExec[fd] = value;
    }
}
