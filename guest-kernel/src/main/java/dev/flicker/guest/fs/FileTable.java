package dev.flicker.guest.fs;

/** The program's file descriptors: 0 to {@link #MAX_FDS}-1, each an {@link OpenFile} and a close-on-exec bit. */
public final class FileTable {
    public static final int MAX_FDS = 1024;
    private final OpenFile[] files = new OpenFile[MAX_FDS];
    private final boolean[] closeOnExec = new boolean[MAX_FDS];

    public OpenFile get(long fd) {
        return fd >= 0 && fd < MAX_FDS ? files[(int) fd] : null;
    }

    /** Installs {@code file} at the lowest free descriptor at or above {@code from}; -1 if none is free. */
    public int install(OpenFile file, int from, boolean cloexec) {
        for (int fd = Math.max(0, from); fd < MAX_FDS; fd++) {
            if (files[fd] == null) {
                files[fd] = file;
                closeOnExec[fd] = cloexec;
                return fd;
            }
        }
        return -1;
    }

    public void installAt(int fd, OpenFile file, boolean cloexec) {
        files[fd] = file;
        closeOnExec[fd] = cloexec;
    }

    public boolean close(long fd) {
        if (get(fd) == null) return false;
        files[(int) fd] = null;
        return true;
    }

    public boolean closeOnExec(int fd) {
        return closeOnExec[fd];
    }

    public void setCloseOnExec(int fd, boolean value) {
        closeOnExec[fd] = value;
    }
}