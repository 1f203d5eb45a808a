package dev.flicker.guest.fs;

import static dev.flicker.guest.abi.FileMode.S_IFCHR;
import static dev.flicker.guest.abi.FileMode.S_IFREG;

/** A file, directory or device in the guest's file tree: its inode, and how it is opened. */
public sealed interface Node extends Inode permits Node.Directory, Node.BundleFile, Node.TmpFile, Node.Device {
    /** A new open file description of this node, opened by {@code path} with {@code statusFlags}, as open(2) makes it. */
    FileDescription open(String path, int statusFlags);

    /** A directory: a fixed one (/, /var, /dev), one of the bundle's, or one of /tmp's. */
    sealed interface Directory extends Node permits SortedDirectory {
        @Override
        default FileDescription open(String path, int statusFlags) {
            return new DirectoryDescription(this, path, statusFlags);
        }

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
        /** A runtime layer's file: its place in the layer's shared range (set once, when the layer opens). */
        private int sharedIndex;
        private volatile SharedFiles shared;
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

        public long ino() {
            return inode;
        }

        public int mode() {
            return mode;
        }

        @Override
        public FileDescription open(String path, int statusFlags) {
            return new BundleFileDescription(this, path, statusFlags);
        }

        void share(SharedFiles range, int index) {
            sharedIndex = index;
            shared = range; // after the index: a reader that sees the range sees its index
        }

        /**
         * The guest-physical address where every VM of this file's layer sees its first byte, or -1 when the file is
         * not shared (a bundle's file). An IOException when the host file changed after its layer was indexed.
         */
        public long sharedGpa() throws java.io.IOException {
            SharedFiles range = shared;
            return range == null ? -1 : range.gpaOf(sharedIndex);
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

    /** A file in the in-memory /tmp, within the limits of the {@link TmpFs} that owns it. */
    final class TmpFile implements Node {
        private final long inode;
        private final TmpFs owner;
        byte[] data = new byte[0];
        int length;
        /** Unlinked from its directory; its bytes stay while a description of it is still open. */
        boolean removed;
        int openDescriptions;

        TmpFile(long inode, TmpFs owner) {
            this.inode = inode;
            this.owner = owner;
        }

        TmpFs owner() {
            return owner;
        }

        public long ino() {
            return inode;
        }

        public int mode() {
            return S_IFREG | 0644;
        }

        public long size() {
            return length;
        }

        @Override
        public FileDescription open(String path, int statusFlags) {
            return new TmpFileDescription(this, path, statusFlags);
        }
    }

    /** A character device of {@code /dev}: what opening it gives is the device's own description. */
    final class Device implements Node {
        /** Makes a device's open file description. */
        @FunctionalInterface
        public interface Opener {
            FileDescription open(Device device, String path, int statusFlags);
        }

        private final long inode;
        private final Opener opener;

        public Device(long inode, Opener opener) {
            this.inode = inode;
            this.opener = opener;
        }

        public long ino() {
            return inode;
        }

        public int mode() {
            return S_IFCHR | 0666;
        }

        public long size() {
            return 0;
        }

        @Override
        public FileDescription open(String path, int statusFlags) {
            return opener.open(this, path, statusFlags);
        }
    }
}
