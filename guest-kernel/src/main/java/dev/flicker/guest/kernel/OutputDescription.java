package dev.flicker.guest.kernel;

import dev.flicker.guest.OutputCapture;
import dev.flicker.guest.abi.Fcntl;
import dev.flicker.guest.abi.FileMode;
import dev.flicker.guest.fs.AnonymousInode;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.Inode;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import java.lang.foreign.MemorySegment;

/**
 * Descriptors 1 and 2: stdout and stderr, captured up to their cap. Bytes past the cap are counted and dropped, and
 * the write still reports them as written.
 */
public final class OutputDescription extends FileDescription {
    private final Inode inode;
    private final OutputCapture capture;
    /** The byte the host reads from a buffer it then throws away. */
    private final byte[] probe = new byte[1];

    private OutputDescription(String path, long ino, OutputCapture capture) {
        super(path, Fcntl.O_WRONLY);
        this.inode = new AnonymousInode(ino, FileMode.S_IFIFO | 0600);
        this.capture = capture;
    }

    public static OutputDescription stdout(OutputCapture capture) {
        return new OutputDescription("/dev/stdout", 10, capture);
    }

    public static OutputDescription stderr(OutputCapture capture) {
        return new OutputDescription("/dev/stderr", 11, capture);
    }

    @Override
    public Inode inode() {
        return inode;
    }

    @Override
    public boolean seekable() {
        return false;
    }

    @Override
    public long write(AddressSpace mm, long buf, int count) throws MemoryFault {
        if (capture.full()) {
            // Still check the pointer: a bad buffer is EFAULT even when nothing would be kept.
            mm.copyIn(buf, MemorySegment.ofArray(probe), 0, Math.min(count, 1));
            capture.drop(count);
            return count;
        }
        capture.write(mm.copyInBytes(buf, count), 0, count);
        return count;
    }
}
