package dev.flicker.kvm;

import dev.flicker.kvm.sys.KvmApi;
import dev.flicker.kvm.sys.SysException;
import dev.flicker.kvm.x86.DescriptorTable;
import dev.flicker.kvm.x86.Descriptors;
import dev.flicker.kvm.x86.PageTables;
import dev.flicker.kvm.x86.Regs;
import dev.flicker.kvm.x86.Segment;
import dev.flicker.kvm.x86.Sregs;
import dev.flicker.kvm.x86.X86;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine alone on a real /dev/kvm: a hand-made long-mode guest, exits, kicks, parallel vCPU bring-up. */
@NeedsKvm
class VmTest {
    static final long MEM = 4 << 20, CODE = 0x10000, MMIO = 0xd0000000L;
    static Kvm kvm;

    @BeforeAll
    static void open() {
        kvm = Kvm.open();
    }

    @AfterAll
    static void close() {
        kvm.close();
    }

    /** Identity-mapped user code at CODE, ring 3, 64-bit; the MMIO page mapped to unbacked MMIO. */
    static Vm guest(byte[] code) {
        Vm vm = kvm.createVm();
        GuestMemory mem = GuestMemory.anonymous(GuestAddress.of(0), MEM);
        vm.addMemory(mem);
        AtomicLong next = new AtomicLong(0x100000);
        PageTables pt = new PageTables(mem, next.getAndAdd(4096), () -> next.getAndAdd(4096));
        pt.map(CODE, CODE, X86.PTE_USER);
        pt.map(0x20000, 0x20000, X86.PTE_USER | X86.PTE_WRITABLE); // stack
        pt.map(MMIO, MMIO, X86.PTE_USER | X86.PTE_WRITABLE);
        mem.slice(CODE, code.length).copyFrom(MemorySegment.ofArray(code));
        MemorySegment gdt = mem.slice(0x1000, 64);
        gdt.setAtIndex(ValueLayout.JAVA_LONG, 3, Descriptors.data(3));
        gdt.setAtIndex(ValueLayout.JAVA_LONG, 4, Descriptors.code64(3));
        pt.map(0xffffffffffe01000L, 0x1000, X86.PTE_WRITABLE);
        return vm;
    }

    static void configure(Vcpu vcpu, long cr3) {
        vcpu.setCpuid(kvm.supportedCpuid());
        Sregs s = vcpu.getSregs()
                .withSegments(Segment.code64(0x23, 3), Segment.data(0x1b, 3), Segment.tss(0x28, 0, 103))
                .withTables(new DescriptorTable(0xffffffffffe01000L, 63), new DescriptorTable(0, 0))
                .withLongMode(cr3, X86.CR0_PE | X86.CR0_PG | X86.CR0_ET | X86.CR0_NE | X86.CR0_WP,
                        X86.CR4_PAE | X86.CR4_OSFXSR, X86.EFER_LME | X86.EFER_LMA | X86.EFER_NXE);
        vcpu.setSregs(s);
        vcpu.setMsrs(new int[] {X86.MSR_FS_BASE, X86.MSR_STAR}, new long[] {0x1234000, 0x0010000800000000L});
        vcpu.setRegs(new Regs().set(KvmApi.REG_RIP, CODE).set(KvmApi.REG_RSP, 0x21000).set(KvmApi.REG_RFLAGS, 2)
                .set(KvmApi.REG_RBX, vcpu.id()));
    }

    @Test
    void guestStoreBecomesAnMmioExit() {
        // mov $0x2a, %eax; movabs %rax, 0xd0000000; jmp .
        byte[] code = {(byte) 0xb8, 0x2a, 0, 0, 0, 0x48, (byte) 0xa3, 0, 0, 0, (byte) 0xd0, 0, 0, 0, 0, (byte) 0xeb, (byte) 0xfe};
        try (Vm vm = guest(code)) {
            Vcpu vcpu = vm.createVcpu(0);
            configure(vcpu, 0x100000);
            VcpuExit exit = vcpu.run();
            VcpuExit.Mmio mmio = assertInstanceOf(VcpuExit.Mmio.class, exit);
            assertEquals(MMIO, mmio.physicalAddress());
            assertTrue(mmio.isWrite());
            assertEquals(8, mmio.length());
            assertEquals(0x2a, mmio.data());
            assertEquals(CODE + 15, vcpu.getRegs().get(KvmApi.REG_RIP));
        }
    }

    @Test
    void kickStopsASpinningGuest() throws Exception {
        byte[] spin = {(byte) 0xeb, (byte) 0xfe}; // jmp .
        try (Vm vm = guest(spin)) {
            Vcpu vcpu = vm.createVcpu(0);
            configure(vcpu, 0x100000);
            vcpu.bindToCurrentThread();
            try {
                AtomicBoolean kicked = new AtomicBoolean();
                Thread kicker = Thread.ofPlatform().start(() -> {
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException ignored) {
                    }
                    kicked.set(true);
                    vcpu.kick();
                });
                // The guest never exits on its own: the first exit must be the kick, and only after it was sent.
                VcpuExit exit = vcpu.run();
                assertInstanceOf(VcpuExit.Interrupted.class, exit);
                assertTrue(kicked.get(), "KVM_RUN returned before the kick");
                kicker.join();
                assertEquals(CODE, vcpu.getRegs().get(KvmApi.REG_RIP), "the guest was still in its loop");
            } finally {
                vcpu.unbindFromCurrentThread();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 8})
    void parallelAndSequentialBringUpGiveTheSameState(int count) {
        List<String> parallel = bringUp(count, true), sequential = bringUp(count, false);
        assertEquals(sequential, parallel);
    }

    private static List<String> bringUp(int count, boolean parallel) {
        try (Vm vm = guest(new byte[] {(byte) 0xf4})) {
            List<Vcpu> vcpus = vm.createVcpus(count, v -> configure(v, 0x100000), parallel);
            assertEquals(count, vcpus.size());
            return vcpus.stream().map(v -> v.id() + " " + v.getRegs() + " " + v.getSregs() + " "
                    + Arrays.toString(v.getMsrs(new int[] {X86.MSR_FS_BASE, X86.MSR_STAR})) + " "
                    + Arrays.hashCode(v.getFpu())).toList();
        }
    }

    @Test
    void aFailedIoctlNamesTheCallAndTheErrno() {
        try (Vm vm = kvm.createVm()) {
            vm.createVcpu(0);
            SysException e = assertThrows(SysException.class, () -> vm.createVcpu(0));
            assertEquals("KVM_CREATE_VCPU", e.call());
            assertEquals(17, e.errno()); // EEXIST: vCPU 0 exists
            assertTrue(e.getMessage().contains("File exists"), e.getMessage());
        }
    }

    @Test
    void closingTwiceIsHarmless() {
        Vm vm = kvm.createVm();
        vm.addMemory(GuestMemory.anonymous(GuestAddress.of(0), MEM));
        vm.createVcpu(0);
        vm.close();
        vm.close();
    }

    @Test
    void theGuestsTscRunsAtTheFrequencyKvmReports() throws Exception {
        try (Vm vm = kvm.createVm()) {
            Vcpu vcpu = vm.createVcpu(0);
            long khz = vcpu.tscKhz();
            assertTrue(khz > 100_000 && khz < 10_000_000, khz + " kHz");
            // Each TSC reading is placed midway between two readings of the host's clock, and the interval grows with
            // the machine: in the emulated host a TSC read (an ioctl) can take milliseconds, which over 50 ms was 8%.
            Duration interval = TestTime.scaled(Duration.ofMillis(50));
            long before0 = System.nanoTime(), tsc0 = vcpu.guestTsc(), after0 = System.nanoTime();
            Thread.sleep(interval);
            long before1 = System.nanoTime(), tsc1 = vcpu.guestTsc(), after1 = System.nanoTime();
            double elapsedNanos = (before1 + after1) / 2.0 - (before0 + after0) / 2.0;
            double measuredKhz = (tsc1 - tsc0) * 1e6 / elapsedNanos;
            assertEquals(khz, measuredKhz, khz * 0.02, "the TSC's rate over " + interval.toMillis() + " ms against the host's monotonic clock");
        }
    }
}
