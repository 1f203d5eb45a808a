package dev.flicker.guest.fs;

import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import java.io.IOException;

import static dev.flicker.guest.abi.Errno.EIO;

/** An open file of the bundle, read-only: read from the host file's mapping, never copied into the heap. */
public final class BundleFileDescription extends FileDescription {
    private final Node.BundleFile file;

    public BundleFileDescription(Node.BundleFile file, String path, int statusFlags) {
        super(path, statusFlags);
        this.file = file;
    }

    @Override
    public Inode inode() {
        return file;
    }

    @Override
    protected long readAt(AddressSpace mm, long buf, int count, long position) throws MemoryFault {
        return copyOut(mm, buf, position, count, false);
    }

    @Override
    public boolean mappable() {
        return true;
    }

    @Override
    public long sharedGpa(long fileOffset) {
        try {
            long base = file.sharedGpa();
            return base < 0 ? -1 : base + fileOffset;
        } catch (IOException changed) {
            return -1;
        }
    }

    @Override
    public long copyIntoMapping(AddressSpace mm, long start, long fileOffset, long length) throws MemoryFault {
        long copied = copyOut(mm, start, fileOffset, length, true);
        return copied < 0 ? copied : 0;
    }

    /**
     * Copies the file's bytes from {@code position}, at most {@code wanted}, out to {@code to}: as the program could
     * write there (a read), or regardless of protection (a mapping being filled). How many, or EIO.
     */
    private long copyOut(AddressSpace mm, long to, long position, long wanted, boolean intoMapping) throws MemoryFault {
        long n = bytesAt(file.size(), position, wanted);
        if (n == 0) return 0;
        try (Node.BundleFile.View view = file.view()) {
            if (intoMapping) mm.poke(to, view.bytes(), position, n);
            else mm.copyOut(to, view.bytes(), position, n);
        } catch (IOException e) {
            return -EIO; // the host file is gone, or changed under its bundle
        }
        return n;
    }
}
