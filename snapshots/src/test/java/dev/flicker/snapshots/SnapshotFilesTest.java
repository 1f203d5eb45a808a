package dev.flicker.snapshots;

import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.VcpuState;
import dev.flicker.kvm.sys.KvmApi;
import dev.flicker.kvm.x86.DescriptorTable;
import dev.flicker.kvm.x86.Regs;
import dev.flicker.kvm.x86.Segment;
import dev.flicker.kvm.x86.Sregs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The snapshot format without KVM: round trip, sparse memory, the store, and what is refused. */
class SnapshotFilesTest {
    static VcpuState state() {
        long[] regs = new long[Regs.COUNT];
        for (int i = 0; i < regs.length; i++) regs[i] = 0x1111L * (i + 1);
        Segment cs = Segment.code64(0x23, 3), ds = Segment.data(0x1b, 3), tr = Segment.tss(0x28, 0xffffffffffe03000L, 103);
        Sregs s = new Sregs(cs, ds, ds, ds.withBase(0x7000), ds, ds, tr, ds, new DescriptorTable(0xffffffffffe01000L, 55),
                new DescriptorTable(0xffffffffffe02000L, 511), 0x80050033L, 0x1234, 0x200000, 0x620, 0, 0xd01, 0xfee00900L);
        byte[] fpu = new byte[(int) KvmApi.FPU_SIZE];
        for (int i = 0; i < fpu.length; i++) fpu[i] = (byte) i;
        return new VcpuState(new Regs(regs), s, fpu, new int[] {0xC0000100, 0xC0000082}, new long[] {0x4000, 0x5000});
    }

    @Test
    void roundTripKeepsEveryField(@TempDir Path dir) {
        try (GuestMemory mem = GuestMemory.anonymous(GuestAddress.of(0), 1 << 20)) {
            mem.segment().set(ValueLayout.JAVA_LONG, 0x3000, 0xfeedfaceL);
            mem.segment().set(ValueLayout.JAVA_LONG, 0x9ff8, 42);
            String hash = SnapshotFiles.write(dir.resolve("s"), "micro/1", mem, 0x10000, List.of(state()), new byte[] {1, 2, 3});
            assertEquals(64, hash.length());
            Snapshot s = SnapshotFiles.read(dir.resolve("s"));
            assertEquals("micro/1", s.guestKind());
            assertEquals(1 << 20, s.memoryBytes());
            assertEquals(List.of(state()), s.vcpus());
            assertArrayEquals(new byte[] {1, 2, 3}, s.guestState());
            try (GuestMemory restored = s.mapMemory()) {
                assertEquals(0xfeedfaceL, restored.segment().get(ValueLayout.JAVA_LONG, 0x3000));
                assertEquals(42, restored.segment().get(ValueLayout.JAVA_LONG, 0x9ff8));
                assertEquals(0, restored.segment().get(ValueLayout.JAVA_LONG, 0x80000)); // never written: a hole
                restored.segment().set(ValueLayout.JAVA_LONG, 0x3000, 7); // private: the file keeps its bytes
            }
            try (GuestMemory again = s.mapMemory()) {
                assertEquals(0xfeedfaceL, again.segment().get(ValueLayout.JAVA_LONG, 0x3000));
            }
        }
    }

    @Test
    void storeKeepsOneCurrentSnapshotPerVersionAndDeletesThem(@TempDir Path dir) {
        SnapshotStore store = new SnapshotStore(dir);
        assertTrue(store.current("fn-1", "micro/1").isEmpty());
        try (GuestMemory mem = GuestMemory.anonymous(GuestAddress.of(0), 64 << 10)) {
            Snapshot a = store.put("fn-1", "micro/1", mem, 64 << 10, List.of(state()), new byte[0]);
            assertEquals(a.directory(), store.current("fn-1", "micro/1").orElseThrow().directory());
            mem.segment().set(ValueLayout.JAVA_LONG, 0, 1);
            Snapshot b = store.put("fn-1", "micro/1", mem, 64 << 10, List.of(state()), new byte[0]);
            assertFalse(a.directory().equals(b.directory()), "different content, different directory");
            assertEquals(b.directory(), store.current("fn-1", "micro/1").orElseThrow().directory());
        }
        store.delete("fn-1");
        assertTrue(store.current("fn-1", "micro/1").isEmpty());
        assertFalse(Files.exists(dir.resolve("fn-1")));
        assertThrows(IllegalArgumentException.class, () -> store.current("../escape", "micro/1"));
    }

    @Test
    void missingFilesAreClearErrors(@TempDir Path dir) {
        SnapshotFormatException e = assertThrows(SnapshotFormatException.class, () -> SnapshotFiles.read(dir));
        assertTrue(e.getMessage().contains("vm.state is missing"), e.getMessage());
    }

    @Test
    void aSnapshotOfAnotherGuestKindOrFormatVersionIsStaleDroppedAndNeverAnError(@TempDir Path dir) throws Exception {
        SnapshotStore store = new SnapshotStore(dir);
        try (GuestMemory mem = GuestMemory.anonymous(GuestAddress.of(0), 64 << 10)) {
            Snapshot old = store.put("fn-1", "micro state=1 abi=1 image=aa", mem, 64 << 10, List.of(state()), new byte[0]);
            // Another guest ABI (or image, or state layout): not restored, deleted, and the store answers empty.
            assertTrue(store.current("fn-1", "micro state=1 abi=2 image=aa").isEmpty());
            assertFalse(Files.exists(old.directory()), "the stale snapshot is deleted");
            assertFalse(Files.exists(dir.resolve("fn-1/current")));
            assertTrue(store.current("fn-1", "micro state=1 abi=2 image=aa").isEmpty(), "and stays gone");

            // A fresh one for this kind is then current.
            Snapshot fresh = store.put("fn-1", "micro state=1 abi=2 image=aa", mem, 64 << 10, List.of(state()), new byte[0]);
            assertEquals(fresh.directory(), store.current("fn-1", "micro state=1 abi=2 image=aa").orElseThrow().directory());

            // Another format version of the file itself: stale too.
            Path stateFile = fresh.directory().resolve(Snapshot.STATE_FILE);
            byte[] bytes = Files.readAllBytes(stateFile);
            java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(8, SnapshotFiles.FORMAT_VERSION + 1);
            Files.write(stateFile, bytes);
            assertThrows(SnapshotVersionException.class, () -> SnapshotFiles.read(fresh.directory()));
            assertTrue(store.current("fn-1", "micro state=1 abi=2 image=aa").isEmpty());
            assertFalse(Files.exists(fresh.directory()));

            // A damaged snapshot is not stale: it stays an error, for someone to look at.
            Snapshot damaged = store.put("fn-1", "micro state=1 abi=2 image=aa", mem, 64 << 10, List.of(state()), new byte[0]);
            Path damagedState = damaged.directory().resolve(Snapshot.STATE_FILE);
            byte[] flipped = Files.readAllBytes(damagedState);
            flipped[flipped.length - 1] ^= 1;
            Files.write(damagedState, flipped);
            assertThrows(SnapshotFormatException.class, () -> store.current("fn-1", "micro state=1 abi=2 image=aa"));
            assertTrue(Files.exists(damaged.directory()));
        }
    }
}
