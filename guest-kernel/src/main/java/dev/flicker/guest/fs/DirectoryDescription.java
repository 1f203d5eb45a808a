package dev.flicker.guest.fs;

import dev.flicker.guest.abi.Dirent64;
import dev.flicker.guest.abi.FileMode;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

import static dev.flicker.guest.abi.Errno.EINVAL;
import static dev.flicker.guest.abi.Errno.EISDIR;

/** An open directory: {@code getdents64} lists it; its offset counts the entries listed so far. */
public final class DirectoryDescription extends FileDescription {
    private final Node.Directory directory;
    /**
     * Where the listing stands: the last name it returned, valid while the offset is still {@code listedOffset} (an
     * lseek or a restore moves it, and the listing then counts its way back).
     */
    private String listedName;
    private long listedOffset = -1;

    public DirectoryDescription(Node.Directory directory, String path, int statusFlags) {
        super(path, statusFlags);
        this.directory = directory;
    }

    @Override
    public Inode inode() {
        return directory;
    }

    @Override
    protected long readAt(AddressSpace mm, long buf, int count, long position) {
        return -EISDIR;
    }

    /**
     * Lists {@code .}, {@code ..}, then the names in sorted order, walking the directory from the last name
     * returned (no copy of its names per open descriptor); the offset counts the entries returned.
     */
    @Override
    public long readdir(AddressSpace mm, long buf, long room) throws MemoryFault {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean more = false;
        while (true) {
            long i = offset();
            String name = i == 0 ? "." : i == 1 ? ".." : nextListedName();
            if (name == null) break;
            Node child = i < 2 ? directory : directory.child(name);
            Dirent64 entry = new Dirent64(child == null ? 1 : child.ino(), i + 1,
                    child == null ? FileMode.DT_UNKNOWN : FileMode.direntType(child.mode()), name.getBytes(StandardCharsets.UTF_8));
            if (out.size() + entry.sizeBytes() > room) {
                more = true;
                break;
            }
            byte[] record = new byte[(int) entry.sizeBytes()];
            entry.marshal(MemorySegment.ofArray(record));
            out.writeBytes(record);
            setOffset(i + 1);
            if (i >= 2) {
                listedName = name;
                listedOffset = i + 1;
            }
        }
        if (out.size() == 0 && more) return -EINVAL; // buffer too small for one entry
        mm.copyOutBytes(buf, out.toByteArray());
        return out.size();
    }

    /** The name at the offset (2 is the first name): after the last one listed, or counted from the start. */
    private String nextListedName() {
        long at = offset();
        if (at == listedOffset && listedName != null) return directory.nameAfter(listedName);
        String name = directory.nameAfter(null);
        for (long k = 2; k < at && name != null; k++) name = directory.nameAfter(name);
        return name;
    }
}
