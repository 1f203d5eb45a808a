package dev.flicker.guest;

import dev.flicker.guest.abi.Mman;
import dev.flicker.guest.elf.ElfException;
import dev.flicker.guest.elf.ElfFile;
import dev.flicker.guest.kernel.Identity;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * Loads a static x86-64 Linux executable (ET_EXEC or static-PIE) into an address space and builds its
 * initial stack as the System V ABI and Linux's {@code create_elf_tables} lay it out:
 * argc, argv, NULL, envp, NULL, auxv pairs, AT_NULL, then the strings and AT_RANDOM's bytes above.
 */
public final class ProgramLoader {
    public static final long PIE_BASE = 0x0000_5555_5555_4000L;
    public static final long STACK_TOP = 0x0000_7fff_ffff_0000L;

    public static final int AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7,
            AT_FLAGS = 8, AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_PLATFORM = 15,
            AT_HWCAP = 16, AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25, AT_HWCAP2 = 26, AT_EXECFN = 31;

    /** Who the program runs as: the kernel's identity, which the auxiliary vector repeats. */
    private static final Identity OWNER = Identity.MICRO_GUEST;

    /** Where the program starts and where its heap begins. */
    public record Loaded(long entry, long stackPointer, long brkStart, long loadBias) {}

    private ProgramLoader() {}

    /**
     * Maps the program's segments, its stack and arguments. Throws {@link ElfException} for a file that is
     * not a static x86-64 executable, or that does not fit in the memory limit.
     */
    public static Loaded load(AddressSpace space, ElfFile elf, String execPath, List<String> argv, List<String> envp,
                              byte[] random16, long stackBytes, long hwcap) {
        if (elf.type() != ElfFile.ET_EXEC && elf.type() != ElfFile.ET_DYN) {
            throw new ElfException("not an executable (ELF type " + elf.type() + ")");
        }
        if (elf.hasInterpreter()) {
            throw new ElfException("dynamically linked program: the micro guest runs static executables only "
                    + "(build with musl-gcc or gcc -static)");
        }
        List<ElfFile.Segment> loads = elf.loadSegments();
        if (loads.isEmpty()) throw new ElfException("no loadable segments");
        long bias = elf.type() == ElfFile.ET_DYN ? pieBias(loads.getFirst()) : 0;
        // Every segment is placed and the total checked against the limit before anything is mapped: the sizes
        // come from the file (up to 1 TiB each), so nothing may be walked or mapped on their word alone.
        List<long[]> ranges = new ArrayList<>();
        for (ElfFile.Segment s : loads) if (s.memSize() > 0) ranges.add(pageRange(s, bias));
        long needed = unionBytes(ranges), room = space.limitBytes() - space.committedBytes();
        if (needed > room) {
            throw new ElfException("program does not fit in its memory limit: its segments take " + needed
                    + " bytes, the limit leaves " + room);
        }
        long highest = 0;
        try {
            for (ElfFile.Segment s : loads) {
                if (s.memSize() == 0) continue;
                long[] range = pageRange(s, bias);
                int prot = ((s.flags() & ElfFile.PF_R) != 0 ? Mman.PROT_READ : 0)
                        | ((s.flags() & ElfFile.PF_W) != 0 ? Mman.PROT_WRITE : 0)
                        | ((s.flags() & ElfFile.PF_X) != 0 ? Mman.PROT_EXEC : 0);
                mapMerging(space, range[0], range[1], prot == 0 ? Mman.PROT_READ : prot);
                space.poke(s.vaddr() + bias, elf.contents(s), 0, s.fileSize());
                highest = Math.max(highest, range[1]);
            }
        } catch (MemoryFault f) {
            throw new ElfException("segment does not fit: " + f.getMessage());
        }
        long phdr = findPhdr(elf, bias);

        long stackLow = STACK_TOP - stackBytes;
        if (!space.map(stackLow, stackBytes, Mman.PROT_READ | Mman.PROT_WRITE, "[stack]")) {
            throw new ElfException("the stack (" + stackBytes + " bytes) does not fit in the memory limit");
        }
        long sp;
        try {
            sp = buildStack(space, elf, execPath, argv, envp, random16, bias, phdr, hwcap, stackLow);
        } catch (MemoryFault f) {
            throw new ElfException("arguments and environment do not fit on the stack");
        }
        return new Loaded(elf.entry() + bias, sp, highest, bias);
    }

    /** How far a static-PIE is moved: its first segment goes to {@link #PIE_BASE}. */
    private static long pieBias(ElfFile.Segment first) {
        try {
            return Math.subtractExact(PIE_BASE, AddressSpace.pageDown(first.vaddr()));
        } catch (ArithmeticException wraps) {
            throw new ElfException("segment at 0x" + Long.toHexString(first.vaddr()) + " is outside user memory");
        }
    }

    /**
     * The pages {@code s} occupies once moved by {@code bias}, as {start, end}; an ElfException when they leave user
     * memory. Computed exactly, so that an address near the end of long cannot wrap around into user memory.
     */
    private static long[] pageRange(ElfFile.Segment s, long bias) {
        try {
            long from = Math.addExact(s.vaddr(), bias), to = Math.addExact(from, s.memSize());
            if (from >= AddressSpace.MIN_USER_VA && to <= AddressSpace.MMAP_TOP) {
                return new long[] {AddressSpace.pageDown(from), AddressSpace.pageUp(to)};
            }
        } catch (ArithmeticException wraps) {
            // outside, as below
        }
        throw new ElfException("segment at 0x" + Long.toHexString(s.vaddr()) + " is outside user memory");
    }

    /** The bytes the page ranges cover together (segments may share a page). */
    private static long unionBytes(List<long[]> ranges) {
        List<long[]> sorted = new ArrayList<>(ranges);
        sorted.sort((a, b) -> Long.compare(a[0], b[0]));
        long total = 0, coveredTo = Long.MIN_VALUE;
        for (long[] r : sorted) {
            long from = Math.max(r[0], coveredTo);
            if (r[1] > from) total += r[1] - from;
            coveredTo = Math.max(coveredTo, r[1]);
        }
        return total;
    }

    /** Maps [start, end) gap by gap, widening the protection of pages an earlier segment already holds. */
    private static void mapMerging(AddressSpace space, long start, long end, int prot) {
        long at = start;
        while (at < end) {
            AddressSpace.Mapping m = space.mappingAt(at);
            if (m != null) {
                long upto = Math.min(end, m.end());
                if ((m.prot() | prot) != m.prot() && !space.protect(at, upto, m.prot() | prot)) {
                    throw new ElfException("program does not fit in its memory limit");
                }
                at = upto;
            } else {
                long upto = Math.min(end, space.nextMappingStart(at)); // the whole gap in one step
                if (!space.map(at, upto - at, prot, "program")) {
                    throw new ElfException("program does not fit in its memory limit");
                }
                at = upto;
            }
        }
    }

    /** The address of the program headers in memory (for AT_PHDR): PT_PHDR, else inside the first segment. */
    private static long findPhdr(ElfFile elf, long bias) {
        for (ElfFile.Segment s : elf.segments()) if (s.type() == ElfFile.PT_PHDR) return s.vaddr() + bias;
        for (ElfFile.Segment s : elf.loadSegments()) {
            if (elf.programHeaderOffset() >= s.offset() && elf.programHeaderOffset() < s.offset() + s.fileSize()) {
                return s.vaddr() + bias + (elf.programHeaderOffset() - s.offset());
            }
        }
        return 0;
    }

    private static long buildStack(AddressSpace space, ElfFile elf, String execPath, List<String> argv,
                                   List<String> envp, byte[] random16, long bias, long phdr, long hwcap, long stackLow)
            throws MemoryFault {
        // Strings and the random bytes go at the top; pointers below, 16-byte aligned at argc.
        long top = STACK_TOP - 16;
        List<Long> argPtrs = new ArrayList<>(), envPtrs = new ArrayList<>();
        long execFn = top = pushString(space, top, execPath);
        long platform = top = pushString(space, top, "x86_64");
        for (String a : argv) argPtrs.add(top = pushString(space, top, a));
        for (String e : envp) envPtrs.add(top = pushString(space, top, e));
        top = (top - 16) & ~15L;
        long randomPtr = top;
        space.copyOutBytes(randomPtr, random16);

        long[][] auxv = {
                {AT_PHDR, phdr}, {AT_PHENT, 56}, {AT_PHNUM, elf.programHeaderCount()}, {AT_PAGESZ, PAGE_SIZE},
                {AT_BASE, 0}, {AT_FLAGS, 0}, {AT_ENTRY, elf.entry() + bias}, {AT_UID, OWNER.uid()}, {AT_EUID, OWNER.uid()},
                {AT_GID, OWNER.gid()}, {AT_EGID, OWNER.gid()}, {AT_SECURE, 0}, {AT_RANDOM, randomPtr}, {AT_HWCAP, hwcap},
                {AT_HWCAP2, 0}, {AT_CLKTCK, 100}, {AT_PLATFORM, platform}, {AT_EXECFN, execFn}, {AT_NULL, 0}};
        int words = 1 + argv.size() + 1 + envp.size() + 1 + auxv.length * 2;
        long sp = (top - words * 8L) & ~15L;
        if (sp < stackLow + PAGE_SIZE) throw new MemoryFault(sp);
        byte[] block = new byte[words * 8];
        MemorySegment b = MemorySegment.ofArray(block);
        int i = 0;
        b.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i++, argv.size());
        for (long p : argPtrs) b.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i++, p);
        b.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i++, 0);
        for (long p : envPtrs) b.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i++, p);
        b.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i++, 0);
        for (long[] pair : auxv) {
            b.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i++, pair[0]);
            b.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i++, pair[1]);
        }
        space.copyOutBytes(sp, block);
        return sp;
    }

    private static long pushString(AddressSpace space, long top, String s) throws MemoryFault {
        byte[] bytes = (s + "\0").getBytes(StandardCharsets.UTF_8);
        long at = top - bytes.length;
        space.copyOutBytes(at, bytes);
        return at;
    }
}
