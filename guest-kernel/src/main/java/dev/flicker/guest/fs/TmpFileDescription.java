package dev.flicker.guest.fs;

import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import java.lang.foreign.MemorySegment;

import static dev.flicker.guest.abi.Errno.EFBIG;
import static dev.flicker.guest.abi.Errno.ENOSPC;

/** An open file of this VM's {@code /tmp}: its bytes live in the host's heap, within /tmp's limit. */
public final class TmpFileDescription extends FileDescription {
    private final Node.TmpFile file;

    public TmpFileDescription(Node.TmpFile file, String path, int statusFlags) {
        super(path, statusFlags);
        this.file = file;
        file.owner().opened(file);
    }

    @Override
    public Inode inode() {
        return file;
    }

    @Override
    protected long readAt(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
        long got = bytesAt(file.size(), position, count);
        if (got > 0) mm.copyOut(buf, MemorySegment.ofArray(file.data), position, got);
        return got;
    }

    /** As Linux past a file system's largest file: nothing at or past it, a short write up to it. */
    @Override
    protected long writeAt(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
        if (position >= TmpFs.MAX_FILE_BYTES) return -EFBIG;
        int fits = (int) Math.min(count, TmpFs.MAX_FILE_BYTES - position);
        byte[] bytes = mm.copyInBytes(buf, fits);
        if (position + fits > file.size() && !file.owner().resize(file, position + fits)) return -ENOSPC;
        System.arraycopy(bytes, 0, file.data, (int) position, fits);
        return fits;
    }

    @Override
    public long truncate(long length) {
        if (length > TmpFs.MAX_FILE_BYTES) return -EFBIG;
        return file.owner().resize(file, length) ? 0 : -ENOSPC;
    }

    @Override
    public boolean mappable() {
        return true;
    }

    @Override
    public long copyIntoMapping(AddressSpace mm, long start, long fileOffset, long length) throws MemoryFault {
        long copy = bytesAt(file.size(), fileOffset, length);
        if (copy > 0) mm.poke(start, MemorySegment.ofArray(file.data), fileOffset, copy);
        return 0;
    }

    /** A file removed while open keeps its bytes until its last description closes. */
    @Override
    protected void release() {
        file.owner().closed(file);
    }
}
