package dev.flicker.guest.fs;

import java.util.List;

/** A file, directory or device in the guest's file tree. */
public sealed interface Node permits Node.Directory, Node.BundleFile, Node.TmpFile, Node.Device, Node.Stream, Node.Socket {
    int S_IFDIR = 0040000, S_IFREG = 0100000, S_IFCHR = 0020000, S_IFIFO = 0010000;
    int DT_DIR = 4, DT_REG = 8, DT_CHR = 2, DT_FIFO = 1;

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

    /** A read-only file of the function's bundle, mapped from the host file. */
    record BundleFile(long inode, int mode, java.lang.foreign.MemorySegment contents) implements Node {
        public long size() {
            return contents.byteSize();
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
            return 0140000 | 0777; // S_IFSOCK
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
