package dev.flicker.guest.fs;

import java.util.List;

import static dev.flicker.guest.abi.FileMode.S_IFCHR;
import static dev.flicker.guest.abi.FileMode.S_IFIFO;
import static dev.flicker.guest.abi.FileMode.S_IFREG;

/** A file, directory or device in the guest's file tree. */
public sealed interface Node permits Node.Directory, Node.BundleFile, Node.TmpFile, Node.Device, Node.Stream, Node.Socket {
    long inode();

    int mode();

    long size();

    /** A directory: a fixed one (/, /var, /dev), one of the bundle's, or one of /tmp's. */
    sealed interface Directory extends Node permits StaticDirectory, TmpFs.TmpDirectory {
        /** Names in this directory, sorted. */
        List<String> names();

        Node child(String name);

        /**
         * The name that follows {@code name} in sorted order ({@code null}: the first), or null at the end. A
         * listing walks the directory with it instead of copying its names.
         */
        String nameAfter(String name);

        boolean isEmpty();
    }

    /**
     * A read-only file of the function's bundle. Its bytes are mapped from the host file while they are read
     * ({@link #view}), and kept mapped while idle within a process-wide bound (see {@link MappedFiles}).
     */
    final class BundleFile implements Node {
        private final long inode;
        private final int mode;
        private final long size;
        final java.nio.file.Path path;
        // Guarded by MappedFiles' lock.
        MappedFiles.Mapping mapping;
        int users;
        boolean closed;

        BundleFile(long inode, int mode, long size, java.nio.file.Path path) {
            this.inode = inode;
            this.mode = mode;
            this.size = size;
            this.path = path;
        }

        public long inode() {
            return inode;
        }

        public int mode() {
            return mode;
        }

        /** The size the file had when its bundle was indexed. */
        public long size() {
            return size;
        }

        /**
         * The file's bytes, mapped read-only until the view is closed. An IOException when the host file is gone
         * or no longer has the size it was indexed with (the system calls answer EIO).
         */
        public View view() throws java.io.IOException {
            return new View(size == 0 ? java.lang.foreign.MemorySegment.NULL.reinterpret(0) : MappedFiles.acquire(this));
        }

        /** One use of a bundle file's bytes; closing it lets the mapping go. */
        public final class View implements AutoCloseable {
            private final java.lang.foreign.MemorySegment bytes;
            private boolean closed;

            private View(java.lang.foreign.MemorySegment bytes) {
                this.bytes = bytes;
            }

            public java.lang.foreign.MemorySegment bytes() {
                return bytes;
            }

            @Override
            public void close() {
                if (closed) return;
                closed = true;
                if (size > 0) MappedFiles.release(BundleFile.this);
            }
        }
    }

    /** A file in the in-memory /tmp. */
    final class TmpFile implements Node {
        private final long inode;
        byte[] data = new byte[0];
        int length;
        /** Unlinked from its directory; its bytes stay while a descriptor still refers to it. */
        boolean removed;

        TmpFile(long inode) {
            this.inode = inode;
        }

        public long inode() {
            return inode;
        }

        public int mode() {
            return S_IFREG | 0644;
        }

        public long size() {
            return length;
        }
    }

    /** /dev/null, /dev/zero, /dev/urandom and /dev/random. */
    record Device(long inode, String name) implements Node {
        public int mode() {
            return S_IFCHR | 0666;
        }

        public long size() {
            return 0;
        }
    }

    /** A TCP socket; the only peer it can reach is the Runtime API on 127.0.0.1:9001. */
    final class Socket implements Node {
        private final long inode;
        /** The connection to the Runtime API once connected, else null. */
        public dev.flicker.guest.runtime.RuntimeApi.Connection connection;

        public Socket(long inode) {
            this.inode = inode;
        }

        public long inode() {
            return inode;
        }

        public int mode() {
            return dev.flicker.guest.abi.FileMode.S_IFSOCK | 0777;
        }

        public long size() {
            return 0;
        }
    }

    /** stdin (the event), stdout and stderr (captured). */
    record Stream(long inode, String name) implements Node {
        public int mode() {
            return S_IFIFO | 0600;
        }

        public long size() {
            return 0;
        }
    }
}
