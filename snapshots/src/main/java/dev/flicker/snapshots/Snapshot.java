package dev.flicker.snapshots;

import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.VcpuState;
import dev.flicker.kvm.sys.Libc;

import java.nio.file.Path;
import java.util.List;

/**
 * A paused VM on disk: the state file ({@code vm.state}) read and validated, and the memory file
 * ({@code memory.bin}) that every restore maps {@code MAP_PRIVATE}, so that all VMs restored from it share
 * its clean pages through the page cache and pay only for the pages they write. See docs/snapshots.md.
 */
public record Snapshot(Path directory, String guestKind, long memoryBytes, List<VcpuState> vcpus, byte[] guestState) {
    public static final String STATE_FILE = "vm.state";
    public static final String MEMORY_FILE = "memory.bin";

    public Path memoryFile() {
        return directory.resolve(MEMORY_FILE);
    }

    /** Maps the memory file privately as guest memory at guest-physical 0; the file stays untouched. */
    public GuestMemory mapMemory() {
        int fd = Libc.open(memoryFile().toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            return GuestMemory.privateFile(GuestAddress.of(0), fd, 0, memoryBytes);
        } finally {
            Libc.close(fd); // the mapping keeps the file
        }
    }
}
