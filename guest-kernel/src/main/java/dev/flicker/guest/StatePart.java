package dev.flicker.guest;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * A micro VM's guest state is saved part by part, each beside the class that owns it (the address space, /tmp, the
 * loopback network and its endpoints, the kernel state), as Firecracker keeps state beside each device. Each part
 * begins with its name and the version of its layout; a part of another version is refused with a message that
 * names it, so a snapshot is never read with the wrong layout. The versions together make the snapshot's kind
 * ({@link MicroVm#stateVersions}), so a stale snapshot is found before it is read at all.
 */
public final class StatePart {
    private StatePart() {}

    /** Begins part {@code name} of layout {@code version}. */
    public static void writeHeader(DataOutputStream out, String name, int version) throws IOException {
        out.writeUTF(name);
        out.writeInt(version);
    }

    /** Reads the header of part {@code name}; an IOException when it is another part or another version of it. */
    public static void readHeader(DataInputStream in, String name, int version) throws IOException {
        String found = in.readUTF();
        if (!found.equals(name)) throw new IOException("the guest state has part '" + found + "' where '" + name + "' belongs");
        int saved = in.readInt();
        if (saved != version) {
            throw new IOException("the snapshot's " + name + " state has layout version " + saved + ", this Flicker reads "
                    + version + ": take a new snapshot");
        }
    }
}
