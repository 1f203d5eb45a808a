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
        long got = bytesAt(file.size(), position, count);
        if (got == 0) return 0;
        try (Node.BundleFile.View view = file.view()) {
            mm.copyOut(buf, view.bytes(), position, got);
        } catch (IOException e) {
            return -EIO; // the host file is gone, or changed under its bundle
        }
        return got;
    }

    @Override
    public boolean mappable() {
        return true;
    }

    @Override
    public long copyIntoMapping(AddressSpace mm, long start, long fileOffset, long length) throws MemoryFault {
        long copy = bytesAt(file.size(), fileOffset, length);
        if (copy == 0) return 0;
        try (Node.BundleFile.View view = file.view()) {
            mm.poke(start, view.bytes(), fileOffset, copy);
        } catch (IOException e) {
            return -EIO; // the host file is gone, or changed under its bundle
        }
        return 0;
    }
}
