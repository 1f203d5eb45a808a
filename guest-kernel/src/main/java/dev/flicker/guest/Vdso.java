package dev.flicker.guest;

import dev.flicker.guest.abi.Mman;
import dev.flicker.guest.elf.ElfException;
import dev.flicker.guest.elf.ElfFile;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.kvm.Sha256;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static dev.flicker.guest.abi.Time.CLOCK_BOOTTIME;
import static dev.flicker.guest.abi.Time.CLOCK_MONOTONIC;
import static dev.flicker.guest.abi.Time.CLOCK_MONOTONIC_COARSE;
import static dev.flicker.guest.abi.Time.CLOCK_MONOTONIC_RAW;
import static dev.flicker.guest.abi.Time.CLOCK_REALTIME;
import static dev.flicker.guest.abi.Time.CLOCK_REALTIME_COARSE;
import static dev.flicker.guest.abi.Time.NANOS_PER_SECOND;
import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * The micro guest's vDSO ({@code vdso.so}, built from {@code src/main/vdso} and shipped in this jar) and its parameter
 * page, as docs/micro-guest-abi.md ("vDSO") lays them out: the image at the top of user space, user read-only and
 * executable; the page directly below it, user read-only, which the host fills with the TSC's scale and the clocks at
 * one TSC reading ({@link #writeParameters}), at boot, after every restore, at the start of every run and at most a
 * second apart while the program runs. The program then reads its clocks without a host call.
 */
public final class Vdso {
    /** Where the image's first page goes, and its parameter page one page below: the top of user space. */
    public static final long IMAGE_VA = AddressSpace.USER_VA_END - PAGE_SIZE, PARAMS_VA = IMAGE_VA - PAGE_SIZE;
    /** The mapping names, as Linux's {@code /proc/self/maps} shows them. */
    public static final String IMAGE_NAME = "[vdso]", PARAMS_NAME = "[vvar]";
    /** {@code VDSO_PARAMS_VERSION}, {@code VDSO_MODE_*} of vdso_params.h. */
    static final int PARAMS_VERSION = 1, MODE_SYSCALL = 0, MODE_TSC = 1;
    /**
     * The clocks the page covers, {@code clock_mask}: the ones whose host call answers the host's wall clock or its
     * {@code CLOCK_MONOTONIC} ({@code TimeSyscalls}); the CPU-time, alarm and TAI clocks stay host calls.
     */
    static final int CLOCK_MASK = 1 << CLOCK_REALTIME | 1 << CLOCK_MONOTONIC | 1 << CLOCK_MONOTONIC_RAW
            | 1 << CLOCK_REALTIME_COARSE | 1 << CLOCK_MONOTONIC_COARSE | 1 << CLOCK_BOOTTIME;
    static final int SHIFT = 32;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** {@code struct vdso_params} of vdso_params.h (0x130 bytes). */
    static final StructLayout PARAMS = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("seq"), ValueLayout.JAVA_INT.withName("version"),
            ValueLayout.JAVA_INT.withName("mode"), ValueLayout.JAVA_INT.withName("clock_mask"),
            ValueLayout.JAVA_LONG.withName("tsc_base"), ValueLayout.JAVA_LONG.withName("mult"),
            ValueLayout.JAVA_INT.withName("shift"), ValueLayout.JAVA_INT.withName("reserved0"),
            ValueLayout.JAVA_LONG.withName("reserved1"),
            MemoryLayout.sequenceLayout(16, MemoryLayout.structLayout(ValueLayout.JAVA_LONG.withName("sec"),
                    ValueLayout.JAVA_LONG.withName("nsec"))).withName("clock"));
    private static final long SEQ = offset("seq"), VERSION = offset("version"), MODE = offset("mode"),
            MASK = offset("clock_mask"), TSC_BASE = offset("tsc_base"), MULT = offset("mult"), SHIFT_AT = offset("shift"),
            CLOCKS = offset("clock");

    private static long offset(String field) {
        return PARAMS.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    private final byte[] image;
    private final int imagePages;
    private final String sha256;

    private Vdso(byte[] image) {
        ElfFile elf = ElfFile.parse(MemorySegment.ofArray(image));
        if (elf.type() != ElfFile.ET_DYN || elf.loadSegments().size() != 1 || elf.loadSegments().getFirst().offset() != 0
                || elf.loadSegments().getFirst().vaddr() != 0) {
            throw new IllegalStateException("vdso.so is not the image docs/micro-guest-abi.md describes: rebuild guest-kernel");
        }
        this.image = image;
        this.imagePages = (int) (AddressSpace.pageUp(elf.loadSegments().getFirst().memSize()) / PAGE_SIZE);
        if (imagePages != 1) throw new IllegalStateException("vdso.so must fit in one page, it takes " + imagePages);
        this.sha256 = Sha256.hex(image);
    }

    /** The SHA-256 of {@code vdso.so}: part of every snapshot's kind, since the image lies in the snapshot's memory. */
    public String sha256() {
        return sha256;
    }

    private static final class Holder {
        static final Vdso INSTANCE = load();
    }

    /** The image in this jar. */
    public static Vdso builtIn() {
        return Holder.INSTANCE;
    }

    private static Vdso load() {
        try (InputStream in = Vdso.class.getResourceAsStream("vdso.so")) {
            if (in == null) throw new IllegalStateException("vdso.so is not on the class path: build guest-kernel with Maven");
            return new Vdso(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Maps the parameter page (zeroed: {@code version} 0, so every call is a system call until the host fills it) and
     * the image at their places; returns the image's address, {@code AT_SYSINFO_EHDR}. Both count against the memory
     * limit, two pages.
     */
    long mapInto(AddressSpace space) {
        if (!space.isFree(PARAMS_VA, IMAGE_VA + (long) imagePages * PAGE_SIZE)
                || !space.map(PARAMS_VA, PAGE_SIZE, Mman.PROT_READ, PARAMS_NAME)
                || !space.map(IMAGE_VA, (long) imagePages * PAGE_SIZE, Mman.PROT_READ | Mman.PROT_EXEC, IMAGE_NAME)) {
            throw new ElfException("the vDSO does not fit in the memory limit");
        }
        try {
            space.poke(IMAGE_VA, MemorySegment.ofArray(image), 0, image.length);
        } catch (MemoryFault f) {
            throw new IllegalStateException("the vDSO's pages were just mapped", f);
        }
        return IMAGE_VA;
    }

    /** The scale of the guest's TSC: {@code mode}, and nanoseconds per tick times 2^32 ({@code mult}). */
    public record Scale(int mode, long mult) {
        /** A TSC of {@code tscKhz} kHz, usable (invariant) or not; 0 kHz is not usable. */
        public static Scale of(long tscKhz, boolean invariant) {
            if (!invariant || tscKhz <= 0) return new Scale(MODE_SYSCALL, 0);
            // mult = round(10^9 * 2^32 / tsc_hz) = round(10^6 * 2^32 / tsc_khz); 10^6 * 2^32 fits in a long.
            long numerator = 1_000_000L << SHIFT;
            return new Scale(MODE_TSC, (numerator + tscKhz / 2) / tscKhz);
        }
    }

    /**
     * Fills the parameter page of {@code space}, if the program still has it where the loader put it (a program that
     * unmapped it and mapped something else there keeps its data: the host then writes nothing): the clocks at TSC
     * reading {@code tsc} are {@code realtimeNanos} (the wall clock) and {@code monotonicNanos} (the host's
     * {@code CLOCK_MONOTONIC}). A monotonic clock never goes back: when the page extrapolates it past
     * {@code monotonicNanos} at {@code tsc} (the TSC and the host's clock drift apart by a few parts per million), the
     * page's value is kept. {@code seq} goes on from the page's own (+2), so that a read interrupted by a snapshot
     * retries in a clone. Written while the vCPU is outside the guest, so the page is never seen half-written.
     */
    static void writeParameters(AddressSpace space, Scale scale, long tsc, long realtimeNanos, long monotonicNanos,
                                boolean keepMonotonic) {
        AddressSpace.Mapping m = space.mappingAt(PARAMS_VA);
        if (m == null || m.start() != PARAMS_VA || !m.name().equals(PARAMS_NAME)) return;
        MemorySegment page = MemorySegment.ofArray(new byte[(int) PARAMS.byteSize()]);
        try {
            space.peek(PARAMS_VA, page);
            int seq = page.get(U32, SEQ);
            if (keepMonotonic && page.get(U32, MODE) == MODE_TSC && scale.mode() == MODE_TSC) {
                long now = clockAt(page, CLOCK_MONOTONIC, tsc);
                if (now > monotonicNanos) monotonicNanos = now;
            }
            page.fill((byte) 0);
            page.set(U32, SEQ, (seq + 2) & ~1);
            page.set(U32, VERSION, PARAMS_VERSION);
            page.set(U32, MODE, scale.mode());
            page.set(U32, MASK, CLOCK_MASK);
            page.set(U64, TSC_BASE, tsc);
            page.set(U64, MULT, scale.mult());
            page.set(U32, SHIFT_AT, SHIFT);
            for (int clock = 0; clock < 16; clock++) {
                if ((CLOCK_MASK & 1 << clock) == 0) continue;
                boolean wall = clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE;
                long nanos = wall ? realtimeNanos : monotonicNanos;
                page.set(U64, CLOCKS + 16L * clock, Math.floorDiv(nanos, NANOS_PER_SECOND));
                page.set(U64, CLOCKS + 16L * clock + 8, Math.floorMod(nanos, NANOS_PER_SECOND));
            }
            space.poke(PARAMS_VA, page, 0, page.byteSize());
        } catch (MemoryFault f) {
            throw new IllegalStateException("the [vvar] mapping has no frame", f);
        }
    }

    /** What the vDSO computes for {@code clock} at TSC reading {@code tsc} from {@code page}, in nanoseconds. */
    static long clockAt(MemorySegment page, int clock, long tsc) {
        long delta = Math.max(0, tsc - page.get(U64, TSC_BASE));
        long high = Math.multiplyHigh(delta, page.get(U64, MULT)), low = delta * page.get(U64, MULT);
        int shift = page.get(U32, SHIFT_AT) & 63;
        long scaled = shift == 0 ? low : (low >>> shift) | (high << (64 - shift));
        return page.get(U64, CLOCKS + 16L * clock) * NANOS_PER_SECOND + page.get(U64, CLOCKS + 16L * clock + 8) + scaled;
    }
}
