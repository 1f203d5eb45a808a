package dev.flicker.guest.kernel;

import dev.flicker.guest.abi.Fcntl;
import dev.flicker.guest.abi.FileMode;
import dev.flicker.guest.fs.AnonymousInode;
import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.fs.Inode;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import java.lang.foreign.MemorySegment;

/**
 * Descriptor 0: the event bytes of the run, read once through. Until the host gives the event (a VM booted for
 * its snapshot), a read waits for it: that read is the snapshot point.
 */
public final class StdinDescription extends FileDescription {
    private static final Inode INODE = new AnonymousInode(9, FileMode.S_IFIFO | 0600);
    private byte[] data;

    /** {@code data} is the event, or null until {@link #provide} gives it. */
    public StdinDescription(byte[] data) {
        super("/dev/stdin", Fcntl.O_RDONLY);
        this.data = data;
    }

    /** Gives the event, unless stdin already holds one. */
    public void provide(byte[] event) {
        if (data == null) data = event.clone();
    }

    @Override
    public Inode inode() {
        return INODE;
    }

    @Override
    public boolean seekable() {
        return false;
    }

    @Override
    protected long readAt(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
        if (data == null) return WAIT_FOR_EVENT;
        long got = bytesAt(data.length, position, count);
        if (got > 0) mm.copyOut(buf, MemorySegment.ofArray(data), position, got);
        return got;
    }
}
