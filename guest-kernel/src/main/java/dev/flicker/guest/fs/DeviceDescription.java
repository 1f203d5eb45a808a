package dev.flicker.guest.fs;

import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import java.lang.foreign.MemorySegment;
import java.security.SecureRandom;

/**
 * An open character device of {@code /dev}. Reads and writes neither use nor move the file offset; writes are
 * discarded, after the buffer's first byte is checked, so that a bad pointer is still EFAULT.
 */
public abstract sealed class DeviceDescription extends FileDescription {
    private final Node.Device device;
    /** The byte the host reads from a buffer it then throws away. */
    private final byte[] probe = new byte[1];

    DeviceDescription(Node.Device device, String path, int statusFlags) {
        super(path, statusFlags);
        this.device = device;
    }

    @Override
    public final Inode inode() {
        return device;
    }

    @Override
    public final long read(AddressSpace mm, long buf, int count) throws MemoryFault {
        return readAt(mm, buf, count, 0);
    }

    @Override
    public final long write(AddressSpace mm, long buf, int count) throws MemoryFault {
        return writeAt(mm, buf, count, 0);
    }

    @Override
    protected final long writeAt(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
        mm.copyIn(buf, MemorySegment.ofArray(probe), 0, Math.min(count, 1));
        return count;
    }

    /** {@code /dev/null}: reads are the end of the file. */
    public static final class Null extends DeviceDescription {
        public Null(Node.Device device, String path, int statusFlags) {
            super(device, path, statusFlags);
        }

        @Override
        protected long readAt(AddressSpace mm, long buf, int count, long position) {
            return 0;
        }
    }

    /** {@code /dev/zero}: reads give zeros. */
    public static final class Zero extends DeviceDescription {
        public Zero(Node.Device device, String path, int statusFlags) {
            super(device, path, statusFlags);
        }

        @Override
        protected long readAt(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
            mm.zeroOut(buf, count);
            return count;
        }
    }

    /** {@code /dev/random} and {@code /dev/urandom}: the host's randomness, at most 64 KiB per read. */
    public static final class Random extends DeviceDescription {
        /** What one read (or {@code getrandom}) gives at most: a short count past it. */
        public static final int MAX_BYTES_PER_CALL = 64 * 1024;
        private final SecureRandom random;

        public Random(Node.Device device, String path, int statusFlags, SecureRandom random) {
            super(device, path, statusFlags);
            this.random = random;
        }

        @Override
        protected long readAt(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
            byte[] bytes = bytes(random, count);
            mm.copyOutBytes(buf, bytes);
            return bytes.length;
        }

        /**
         * Fresh random bytes, as many as asked up to {@link #MAX_BYTES_PER_CALL}: exactly that many, since a
         * generator filling a bigger buffer on every small call would cost the host for nothing.
         */
        public static byte[] bytes(SecureRandom random, long wanted) {
            byte[] bytes = new byte[(int) Math.min(wanted, MAX_BYTES_PER_CALL)];
            random.nextBytes(bytes);
            return bytes;
        }
    }
}
