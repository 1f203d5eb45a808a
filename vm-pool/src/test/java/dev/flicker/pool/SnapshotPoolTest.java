package dev.flicker.pool;

import dev.flicker.guest.HostCallAbi;
import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVm;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.kernel.KernelState;
import dev.flicker.guest.net.LoopbackEndpoint;
import dev.flicker.kvm.Kvm;
import dev.flicker.kvm.Sha256;
import dev.flicker.lambda.runtime.RuntimeApi;
import dev.flicker.snapshots.Snapshot;
import dev.flicker.snapshots.SnapshotFiles;
import dev.flicker.snapshots.SnapshotFormatException;
import dev.flicker.snapshots.SnapshotStore;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Snapshot, restore and pool on real KVM, with a function that initialises a 32 MiB heap before its event. */
@NeedsKvm
class SnapshotPoolTest {
    static final Path PROGRAMS = Path.of("../guest-kernel/target/test-programs/musl");
    static final int HEAP_MIB = 32;
    static Kvm kvm;
    static MicroVmRunner runner;
    static Bundle bundle;

    @BeforeAll
    static void start() {
        if (!Files.isRegularFile(PROGRAMS.resolve("snapfn"))) {
            throw new IllegalStateException("snapfn is missing in " + PROGRAMS.toAbsolutePath() + ": build guest-kernel first (mvn install)");
        }
        kvm = Kvm.open();
        runner = new MicroVmRunner(kvm);
        bundle = Bundle.open(PROGRAMS);
    }

    @AfterAll
    static void stop() {
        runner.close();
        bundle.close();
        kvm.close();
    }

    /** An invocation's event: the ARN comes from whoever invokes, as on Lambda. */
    static RuntimeApi.Event event(byte[] payload) {
        return RuntimeApi.Event.of(payload, "arn:aws:lambda:local:000000000000:function:snapfn", System.currentTimeMillis() + TestTime.scaledMillis(60_000));
    }

    /** What the pool gives every VM, and so what its snapshots' kind names. */
    static final List<LoopbackEndpoint.Spec> ENDPOINTS = List.of(RuntimeApi.ENDPOINT);

    static FunctionVersion snapfn(String key) {
        return new FunctionVersion(key, bundle, "snapfn", List.of(Integer.toString(HEAP_MIB), "write"), Map.of(),
                Limits.DEFAULT.withMemoryMib(64).withTimeoutMillis(TestTime.scaledMillis(10_000)));
    }

    static long expectedSum() {
        long sum = 0;
        for (long i = 0; i < ((long) HEAP_MIB << 20); i += 4096) sum += ((i + 1) * 7) & 0xff;
        return sum;
    }

    static String sha256(Path file) throws Exception {
        return Sha256.hex(Files.readAllBytes(file));
    }

    @Test
    void hundredClonesAnswerCorrectlyAndKeepTheirWritesToThemselves(@TempDir Path dir) throws Exception {
        try (VmPool pool = new VmPool(runner, new SnapshotStore(dir), VmPool.Policy.DEFAULT)) {
            FunctionVersion fn = snapfn("snapfn-1");
            Snapshot snapshot = pool.prepare(fn);
            String memoryHash = sha256(snapshot.memoryFile());
            Set<String> randoms = new HashSet<>();
            for (int i = 0; i < 100; i++) {
                Invocation inv = pool.invoke(fn, event(("clone" + i).getBytes(StandardCharsets.UTF_8)));
                RunResult r = inv.result();
                assertTrue(r.exitedWith(0), () -> r + r.stderrText());
                String out = r.stdoutText();
                // Every clone sees the initialised heap, not the bytes an earlier clone wrote over it.
                assertTrue(out.startsWith("event=clone" + i + " sum=" + expectedSum() + " first=7 random="), out);
                randoms.add(out.substring(out.indexOf("random=")));
            }
            assertEquals(100, randoms.size(), "every clone draws its own randomness after restore");
            pool.awaitTeardown();
            assertEquals(memoryHash, sha256(snapshot.memoryFile()), "guest writes never reach the snapshot file");
        }
    }

    @Test
    void snapshotSurvivesAProcessRestart(@TempDir Path dir) {
        FunctionVersion fn = snapfn("snapfn-restart");
        try (VmPool pool = new VmPool(runner, new SnapshotStore(dir), VmPool.Policy.DEFAULT)) {
            pool.prepare(fn);
        }
        // A new store and pool over the same directory: the snapshot is read from disk, not taken again.
        SnapshotStore reopened = new SnapshotStore(dir);
        assertTrue(reopened.current(fn.key(), runner.snapshotKind(ENDPOINTS)).isPresent());
        try (VmPool pool = new VmPool(runner, reopened, VmPool.Policy.DEFAULT)) {
            pool.prepare(fn);
            RunResult r = pool.invoke(fn, event("after-restart".getBytes())).result();
            assertTrue(r.exitedWith(0) && r.stdoutText().startsWith("event=after-restart sum="), r::toString);
        }
    }

    @Test
    void aSnapshotOfAnotherGuestAbiImageOrStateLayoutIsTakenAgainNeverRestored(@TempDir Path dir) throws Exception {
        FunctionVersion fn = snapfn("snapfn-upgrade");
        SnapshotStore store = new SnapshotStore(dir);
        Snapshot good;
        try (VmPool pool = new VmPool(runner, store, VmPool.Policy.DEFAULT)) {
            good = pool.prepare(fn);
        }
        assertEquals(runner.snapshotKind(ENDPOINTS), good.guestKind());
        String image = good.guestKind().substring(good.guestKind().indexOf("image=") + 6);
        String state = MicroVm.stateVersions(ENDPOINTS);
        LoopbackEndpoint.Spec newerApi = new LoopbackEndpoint.Spec(RuntimeApi.PORT, RuntimeApi.ENDPOINT.name(),
                RuntimeApi.STATE_VERSION + 1, RuntimeApi.ENDPOINT.factory());
        List<String> otherKinds = List.of(
                MicroVmRunner.snapshotKind(state, HostCallAbi.VERSION + 1, image),    // another guest ABI
                MicroVmRunner.snapshotKind(state, HostCallAbi.VERSION, "0".repeat(64)), // another guest image
                MicroVmRunner.snapshotKind(state.replace("kernel=" + KernelState.STATE_VERSION,
                        "kernel=" + (KernelState.STATE_VERSION + 1)), HostCallAbi.VERSION, image), // another state layout
                MicroVmRunner.snapshotKind(MicroVm.stateVersions(List.of(newerApi)), HostCallAbi.VERSION, image)); // another endpoint's
        for (String other : otherKinds) {
            // What an older or newer Flicker would have left: the same VM, recorded under its own kind.
            Snapshot stale;
            try (var memory = good.mapMemory()) {
                stale = store.put(fn.key(), other, memory, good.memoryBytes(), good.vcpus(), good.guestState());
            }
            try (VmPool pool = new VmPool(runner, store, VmPool.Policy.DEFAULT)) {
                Snapshot used = pool.prepare(fn);
                assertEquals(runner.snapshotKind(ENDPOINTS), used.guestKind(), other);
                assertNotEquals(stale.directory(), used.directory(), "a fresh snapshot was taken: " + other);
                assertTrue(Files.notExists(stale.directory()), "the stale one is deleted: " + other);
                RunResult r = pool.invoke(fn, event("after-upgrade".getBytes())).result();
                assertTrue(r.exitedWith(0) && r.stdoutText().startsWith("event=after-upgrade sum=" + expectedSum()), r::toString);
            }
        }
    }

    @Test
    void restoreRefusesTheGuestStateOfAnotherKind(@TempDir Path dir) throws Exception {
        Snapshot good;
        try (VmPool pool = new VmPool(runner, new SnapshotStore(dir), VmPool.Policy.DEFAULT)) {
            good = pool.prepare(snapfn("snapfn-kind"));
        }
        // The guest state starts with the kind that wrote it; a state of another ABI must not be read as this one's.
        var in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(good.guestState()));
        String kind = in.readUTF();
        var rewritten = new java.io.ByteArrayOutputStream();
        var out = new java.io.DataOutputStream(rewritten);
        out.writeUTF(kind.replace("abi=" + HostCallAbi.VERSION, "abi=" + (HostCallAbi.VERSION + 1)));
        out.write(in.readAllBytes());
        out.flush();
        IOException e = assertThrows(IOException.class, () -> runner.restore(good.mapMemory(), good.vcpus().getFirst(),
                rewritten.toByteArray(), bundle, Limits.DEFAULT.withMemoryMib(64), ENDPOINTS));
        assertTrue(e.getMessage().contains("snapshot of another guest"), e.getMessage());
    }

    @Test
    void restoreRefusesAPartOfTheGuestStateOfAnotherVersionAndNamesIt(@TempDir Path dir) throws Exception {
        Snapshot good;
        try (VmPool pool = new VmPool(runner, new SnapshotStore(dir), VmPool.Policy.DEFAULT)) {
            good = pool.prepare(snapfn("snapfn-part"));
        }
        // The kernel state's part begins with its name and version; bump the version, leave the kind as it is.
        byte[] state = good.guestState().clone();
        byte[] header = ByteBuffer.allocate(2 + 6 + 4).putShort((short) 6).put("kernel".getBytes(StandardCharsets.US_ASCII))
                .putInt(KernelState.STATE_VERSION).array();
        int at = lastIndexOf(state, header);
        assertTrue(at > 0, "the kernel part's header is in the guest state");
        ByteBuffer.wrap(state).putInt(at + 8, KernelState.STATE_VERSION + 1);
        IOException e = assertThrows(IOException.class, () -> runner.restore(good.mapMemory(), good.vcpus().getFirst(),
                state, bundle, Limits.DEFAULT.withMemoryMib(64), ENDPOINTS));
        assertTrue(e.getMessage().contains("kernel state has layout version " + (KernelState.STATE_VERSION + 1)), e.getMessage());
    }

    private static int lastIndexOf(byte[] haystack, byte[] needle) {
        for (int i = haystack.length - needle.length; i >= 0; i--) {
            if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) return i;
        }
        return -1;
    }

    @Test
    void corruptedSnapshotsAreRejectedWithClearErrors(@TempDir Path dir) throws IOException {
        Snapshot good;
        try (VmPool pool = new VmPool(runner, new SnapshotStore(dir), VmPool.Policy.DEFAULT)) {
            good = pool.prepare(snapfn("snapfn-corrupt"));
        }
        Path state = good.directory().resolve(Snapshot.STATE_FILE);
        byte[] original = Files.readAllBytes(state);

        byte[] flipped = original.clone();
        flipped[flipped.length / 2] ^= 0x40;
        Files.write(state, flipped);
        assertTrue(assertThrows(SnapshotFormatException.class, () -> SnapshotFiles.read(good.directory()))
                .getMessage().contains("checksum"));

        Files.write(state, java.util.Arrays.copyOf(original, original.length - 7));
        assertTrue(assertThrows(SnapshotFormatException.class, () -> SnapshotFiles.read(good.directory()))
                .getMessage().contains("truncated"));

        Files.write(state, java.util.Arrays.copyOf(original, 10));
        assertTrue(assertThrows(SnapshotFormatException.class, () -> SnapshotFiles.read(good.directory()))
                .getMessage().contains("truncated"));

        byte[] otherVersion = original.clone();
        ByteBuffer.wrap(otherVersion).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 99);
        Files.write(state, otherVersion);
        assertTrue(assertThrows(SnapshotFormatException.class, () -> SnapshotFiles.read(good.directory()))
                .getMessage().contains("format version 99"));

        byte[] badMagic = original.clone();
        badMagic[0] = 'X';
        Files.write(state, badMagic);
        assertTrue(assertThrows(SnapshotFormatException.class, () -> SnapshotFiles.read(good.directory()))
                .getMessage().contains("bad magic"));

        Files.write(state, original);
        try (var ch = java.nio.channels.FileChannel.open(good.memoryFile(), java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 2);
        }
        assertTrue(assertThrows(SnapshotFormatException.class, () -> SnapshotFiles.read(good.directory()))
                .getMessage().contains("memory.bin"));
    }

    @Test
    void burstOfThousandLeasesGetsDistinctVmsAndLeaksNothing(@TempDir Path dir) throws Exception {
        FunctionVersion fn = new FunctionVersion("hello-burst", bundle, "snapfn", List.of("1"), Map.of(),
                Limits.DEFAULT.withMemoryMib(8));
        try (VmPool warm = new VmPool(runner, new SnapshotStore(dir), VmPool.Policy.DEFAULT)) {
            warm.prepare(fn);
            warm.invoke(fn, event("warm".getBytes())); // loads every class the run needs
        }
        long fds = count(Path.of("/proc/self/fd")), maps = lines(Path.of("/proc/self/maps"));
        try (VmPool pool = new VmPool(runner, new SnapshotStore(dir), VmPool.Policy.DEFAULT)) {
            pool.prepare(fn);
            int n = 1000;
            ConcurrentLinkedQueue<VmPool.Lease> leases = new ConcurrentLinkedQueue<>();
            CountDownLatch go = new CountDownLatch(1), done = new CountDownLatch(4);
            for (int t = 0; t < 4; t++) {
                Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                        for (int i = 0; i < n / 4; i++) leases.add(pool.lease(fn));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } finally {
                        done.countDown();
                    }
                });
            }
            go.countDown();
            done.await();
            assertEquals(n, leases.size());
            Set<Object> distinct = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
            for (VmPool.Lease l : leases) distinct.add(l.vm());
            assertEquals(n, distinct.size(), "every lease has its own VM");
            // Every VM really runs: a sample answers; the rest are given back unused.
            List<VmPool.Lease> all = new ArrayList<>(leases);
            for (int i = 0; i < all.size(); i++) {
                if (i % 50 == 0) {
                    RunResult r = all.get(i).invoke(event(("lease" + i).getBytes())).result();
                    assertTrue(r.exitedWith(0), r::toString);
                } else {
                    all.get(i).release();
                }
            }
            pool.remove(fn);
        }
        assertEquals(fds, count(Path.of("/proc/self/fd")), "open fds after 1,000 leases and the pool closed");
        long mapsAfter = lines(Path.of("/proc/self/maps"));
        assertTrue(mapsAfter - maps < 50, "mappings grew from " + maps + " to " + mapsAfter);
    }

    @Test
    void poolRestoresAheadOfDemandAndShrinksWhenIdle(@TempDir Path dir) throws Exception {
        FunctionVersion fn = new FunctionVersion("hello-pool", bundle, "snapfn", List.of("1"), Map.of(),
                Limits.DEFAULT.withMemoryMib(8));
        VmPool.Policy quickIdle = new VmPool.Policy(8, 300, 0, 10, 100, 1_000, VmPool.Policy.DEFAULT.precopyMaxPages());
        try (VmPool pool = new VmPool(runner, new SnapshotStore(dir), quickIdle)) {
            pool.prepare(fn);
            assertEquals(StartPath.RESTORE_ON_DEMAND, pool.invoke(fn, event("first".getBytes())).startPath());
            TestTime.await("a pool hit: with steady arrivals the pool restores VMs ahead of demand", Duration.ofSeconds(2),
                    () -> pool.invoke(fn, event("again".getBytes())).startPath() == StartPath.POOL_HIT);
            TestTime.await("an idle function's pool to shrink to zero", Duration.ofSeconds(2), () -> pool.readyCount(fn) == 0);
        }
    }

    @Test
    void poolYieldsUnderHostMemoryPressure(@TempDir Path dir) throws Exception {
        FunctionVersion fn = new FunctionVersion("hello-pressure", bundle, "snapfn", List.of("1"), Map.of(),
                Limits.DEFAULT.withMemoryMib(8));
        // A host that never has enough memory available: the pool must not restore ahead, yet still serve.
        VmPool.Policy starved = new VmPool.Policy(8, 30_000, Long.MAX_VALUE, 10, 100, 1_000, VmPool.Policy.DEFAULT.precopyMaxPages());
        try (VmPool pool = new VmPool(runner, new SnapshotStore(dir), starved)) {
            pool.prepare(fn);
            for (int i = 0; i < 50; i++) {
                Invocation inv = pool.invoke(fn, event("e".getBytes()));
                assertTrue(inv.result().exitedWith(0), inv.result()::toString);
                assertEquals(StartPath.RESTORE_ON_DEMAND, inv.startPath());
                Thread.sleep(5);
            }
            assertEquals(0, pool.readyCount(fn));
        }
    }

    @Test
    void customRuntimeIsSnapshottedAtItsFirstNextAndAnswersFromClones(@TempDir Path dir) {
        try (Bundle runtime = Bundle.open(Path.of("../guest-kernel/target/test-programs/c-runtime"));
             VmPool pool = new VmPool(runner, new SnapshotStore(dir), VmPool.Policy.DEFAULT)) {
            FunctionVersion fn = new FunctionVersion("c-runtime", runtime, "bootstrap", List.of(),
                    Map.of("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"), Limits.DEFAULT.withMemoryMib(32));
            pool.prepare(fn);
            for (String name : List.of("Ada", "Grace", "Edsger")) {
                Invocation inv = pool.invoke(fn, event(("{\"name\":\"" + name + "\"}").getBytes(StandardCharsets.UTF_8)));
                assertTrue(inv.succeeded(), () -> inv.errorType() + " " + inv.result());
                assertEquals("{\"greeting\":\"hello, " + name + "\"}", new String(inv.response(), StandardCharsets.UTF_8));
            }
            // As on Lambda: the error type is Unhandled unless the runtime names one in a header; the body is the runtime's.
            Invocation bad = pool.invoke(fn, event("{}".getBytes()));
            assertEquals("Unhandled", bad.errorType());
            assertTrue(new String(bad.response(), StandardCharsets.UTF_8).contains("\"errorType\":\"MissingName\""));
        }
    }

    @Test
    void restoresCopyAheadWhatTheFirstInvocationWroteUnlessItWroteTooMuch(@TempDir Path dir) {
        try (Bundle runtime = Bundle.open(Path.of("../guest-kernel/target/test-programs/c-runtime"));
             VmPool pool = new VmPool(runner, new SnapshotStore(dir), new VmPool.Policy(0, 30_000, 0, 20, 100, 1_000, VmPool.Policy.DEFAULT.precopyMaxPages()))) {
            FunctionVersion fn = new FunctionVersion("c-runtime-precopy", runtime, "bootstrap", List.of(),
                    Map.of("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"), Limits.DEFAULT.withMemoryMib(32));
            pool.prepare(fn);
            VmPool.Lease first = pool.lease(fn);
            BitSet byRestore = first.vm().writtenPages(); // the clock page and whatever else the restore itself writes
            assertTrue(first.invoke(event("{\"name\":\"Ada\"}".getBytes(StandardCharsets.UTF_8))).succeeded());
            BitSet learned = pool.precopyPages(fn);
            assertTrue(learned.cardinality() > byRestore.cardinality() && learned.cardinality() <= 2048,
                    "the first invocation wrote " + learned.cardinality() + " pages, the restore " + byRestore.cardinality());

            VmPool.Lease next = pool.lease(fn);
            BitSet notYetCopied = (BitSet) learned.clone();
            notYetCopied.andNot(next.vm().writtenPages());
            assertEquals(new BitSet(), notYetCopied, "a clone restored after the first invocation holds its pages before it runs");
            Invocation inv = next.invoke(event("{\"name\":\"Grace\"}".getBytes(StandardCharsets.UTF_8)));
            assertEquals("{\"greeting\":\"hello, Grace\"}", new String(inv.response(), StandardCharsets.UTF_8));

            // A first invocation that writes its whole 32 MiB heap (8,192 pages) teaches nothing: every clone would hold it.
            FunctionVersion big = snapfn("snapfn-precopy");
            pool.prepare(big);
            assertTrue(pool.invoke(big, event("touch".getBytes())).result().exitedWith(0));
            assertEquals(new BitSet(), pool.precopyPages(big));
            VmPool.Lease unused = pool.lease(big);
            assertTrue(unused.vm().writtenPages().cardinality() < 64, "no copies ahead for the big writer");
            unused.release();
        }
    }

    @Test
    void perVmMemoryShowsSharedSnapshotPages(@TempDir Path dir) {
        try (VmPool pool = new VmPool(runner, new SnapshotStore(dir), new VmPool.Policy(0, 30_000, 0, 20, 100, 1_000, VmPool.Policy.DEFAULT.precopyMaxPages()))) {
            FunctionVersion fn = snapfn("snapfn-memory");
            pool.prepare(fn);
            List<VmPool.Lease> leases = new ArrayList<>();
            for (int i = 0; i < 4; i++) leases.add(pool.lease(fn));
            RunResult r = leases.getFirst().invoke(event("touch".getBytes())).result(); // reads its whole heap, then overwrites it
            assertTrue(r.exitedWith(0), r::toString);
            List<VmPool.VmMemory> vms = pool.vmMemory();
            assertEquals(3, vms.size(), vms::toString); // the invoked VM is gone
            for (VmPool.VmMemory m : vms) {
                assertEquals("Leased", m.state());
                // A clone that has not run yet holds almost nothing of its 32 MiB heap: the snapshot's pages
                // are mapped, not copied, and come in only when touched.
                assertTrue(m.rssKib() < 1024 && m.pssKib() <= m.rssKib(), m::toString);
            }
            for (VmPool.Lease l : leases.subList(1, 4)) l.release();
        }
    }

    static long count(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    static long lines(Path file) throws IOException {
        try (Stream<String> s = Files.lines(file)) {
            return s.count();
        }
    }
}
