package dev.flicker.guest;

import dev.flicker.guest.abi.Mman;
import dev.flicker.guest.elf.ElfException;
import dev.flicker.guest.elf.ElfFile;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.Node;
import dev.flicker.guest.kernel.Identity;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * Loads an x86-64 Linux executable into an address space and builds its initial stack as the System V ABI and
 * Linux's {@code create_elf_tables} lay it out: argc, argv, NULL, envp, NULL, auxv pairs, AT_NULL, then the strings
 * and AT_RANDOM's bytes above. A static program (ET_EXEC or static-PIE) starts at its own entry. A dynamically
 * linked one ({@code PT_INTERP}) is loaded as Linux's {@code load_elf_binary} loads it: the program's segments at
 * their addresses (a PIE at {@link #PIE_BASE}), its interpreter (the dynamic loader, an ET_DYN) at a base of its own
 * found top-down like an {@code mmap}, and execution starts at the interpreter's entry, which finds the program
 * through {@code AT_PHDR}, {@code AT_ENTRY} and {@code AT_BASE}.
 */
public final class ProgramLoader {
    public static final long PIE_BASE = 0x0000_5555_5555_4000L;
    public static final long STACK_TOP = 0x0000_7fff_ffff_0000L;

    public static final int AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7,
            AT_FLAGS = 8, AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_PLATFORM = 15,
            AT_HWCAP = 16, AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25, AT_HWCAP2 = 26, AT_EXECFN = 31,
            AT_SYSINFO_EHDR = 33;

    /** Who the program runs as: the kernel's identity, which the auxiliary vector repeats. */
    private static final Identity OWNER = Identity.MICRO_GUEST;

    /**
     * Where the program starts (the interpreter's entry for a dynamic program), its initial stack pointer, where its
     * heap begins, how far the program was moved (a PIE's bias) and how far its interpreter was ({@code AT_BASE};
     * 0: none).
     */
    public record Loaded(long entry, long stackPointer, long brkStart, long loadBias, long interpreterBase) {}

    private ProgramLoader() {}

    /**
     * Loads the program at {@code execPath} of {@code tree} (in the bundle or a runtime layer) and, when it names one,
     * its interpreter from the same tree. {@code execPath} is what {@code AT_EXECFN} and {@code /proc/self/exe} say.
     * With {@code vdso} (null: none), the vDSO and its parameter page are mapped too, and named by
     * {@code AT_SYSINFO_EHDR}. Throws {@link ElfException} for a program or interpreter that is missing, not an x86-64
     * executable, or does not fit in the memory limit.
     */
    public static Loaded exec(AddressSpace space, FileTree tree, String execPath, List<String> argv, List<String> envp,
                              byte[] random16, long stackBytes, long hwcap, Vdso vdso) {
        Node.BundleFile program = executable(tree, execPath, "program " + execPath);
        try (Node.BundleFile.View programBytes = program.view()) {
            ElfFile elf = ElfFile.parse(programBytes.bytes());
            String interpreterPath = elf.interpreter();
            if (interpreterPath == null) {
                return load(space, elf, null, execPath, argv, envp, random16, stackBytes, hwcap, vdso,
                        sharedGpa(program), -1);
            }
            Node.BundleFile interpreter = executable(tree, interpreterPath, "the interpreter " + interpreterPath + " of "
                    + execPath + " (a dynamically linked program needs the runtime layer that holds its dynamic loader)");
            try (Node.BundleFile.View interpreterBytes = interpreter.view()) {
                return load(space, elf, ElfFile.parse(interpreterBytes.bytes()), execPath, argv, envp, random16,
                        stackBytes, hwcap, vdso, sharedGpa(program), sharedGpa(interpreter));
            }
        } catch (IOException e) {
            throw new ElfException("cannot read " + execPath + ": " + e.getMessage());
        }
    }

    /** Where every VM of its layer sees {@code file}'s first byte, or -1 (a bundle's file, or one that changed). */
    private static long sharedGpa(Node.BundleFile file) {
        try {
            return file.sharedGpa();
        } catch (IOException changed) {
            return -1;
        }
    }

    /** The regular, read-only file at {@code path}, or an ElfException that names {@code what} is missing. */
    private static Node.BundleFile executable(FileTree tree, String path, String what) {
        Node node = tree.lookup(FileTree.normalize("/", path));
        if (node instanceof Node.BundleFile file) return file;
        throw new ElfException(what + (node == null ? " is not in the guest's file tree" : " is not a regular file of the bundle or the layer"));
    }

    /**
     * Maps the program's segments, its interpreter's when {@code interpreter} is given (null for a static program),
     * the stack and the arguments. Throws {@link ElfException} for a file that is not an x86-64 executable, a program
     * whose interpreter is missing or unusable, or one that does not fit in the memory limit.
     */
    public static Loaded load(AddressSpace space, ElfFile elf, ElfFile interpreter, String execPath, List<String> argv,
                              List<String> envp, byte[] random16, long stackBytes, long hwcap) {
        return load(space, elf, interpreter, execPath, argv, envp, random16, stackBytes, hwcap, null);
    }

    /** As {@link #load(AddressSpace, ElfFile, ElfFile, String, List, List, byte[], long, long)}, with {@code vdso} mapped (null: none). */
    public static Loaded load(AddressSpace space, ElfFile elf, ElfFile interpreter, String execPath, List<String> argv,
                              List<String> envp, byte[] random16, long stackBytes, long hwcap, Vdso vdso) {
        return load(space, elf, interpreter, execPath, argv, envp, random16, stackBytes, hwcap, vdso, -1, -1);
    }

    /**
     * As above; {@code programGpa} and {@code interpreterGpa} say where the files lie among the pages every VM of
     * their runtime layer shares (-1: they are not shared), so that their read-only segments are mapped from there,
     * not copied ({@link AddressSpace#mapShared}).
     */
    private static Loaded load(AddressSpace space, ElfFile elf, ElfFile interpreter, String execPath, List<String> argv,
                               List<String> envp, byte[] random16, long stackBytes, long hwcap, Vdso vdso,
                               long programGpa, long interpreterGpa) {
        if (elf.type() != ElfFile.ET_EXEC && elf.type() != ElfFile.ET_DYN) {
            throw new ElfException("not an executable (ELF type " + elf.type() + ")");
        }
        if (elf.hasInterpreter() && interpreter == null) {
            throw new ElfException("dynamically linked program: it needs its interpreter (PT_INTERP), which the loader was not given");
        }
        if (interpreter != null) {
            if (!elf.hasInterpreter()) throw new ElfException("a static program takes no interpreter");
            if (interpreter.type() != ElfFile.ET_DYN) {
                throw new ElfException("the interpreter " + elf.interpreter() + " is not a shared object (ELF type "
                        + interpreter.type() + ")");
            }
            if (interpreter.hasInterpreter()) throw new ElfException("the interpreter " + elf.interpreter() + " needs an interpreter itself");
            if (interpreter.loadSegments().isEmpty()) throw new ElfException("the interpreter has no loadable segments");
        }
        List<ElfFile.Segment> loads = elf.loadSegments();
        if (loads.isEmpty()) throw new ElfException("no loadable segments");
        long bias = elf.type() == ElfFile.ET_DYN ? pieBias(loads.getFirst()) : 0;
        // Every segment is placed and the total checked against the limit before anything is mapped: the sizes
        // come from the file (up to 1 TiB each), so nothing may be walked or mapped on their word alone.
        List<long[]> ranges = new ArrayList<>();
        for (ElfFile.Segment s : loads) if (s.memSize() > 0) ranges.add(pageRange(s, bias));
        long[] interpreterSpan = interpreter == null ? null : span(interpreter);
        long needed = unionBytes(ranges) + (interpreterSpan == null ? 0 : unionBytes(unplacedRanges(interpreter)));
        long room = space.limitBytes() - space.committedBytes();
        if (needed > room) {
            throw new ElfException("program does not fit in its memory limit: its segments take " + needed
                    + " bytes, the limit leaves " + room);
        }
        long highest = mapSegments(space, elf, bias, programGpa);
        long interpreterBias = 0;
        if (interpreter != null) {
            // Like Linux's load_elf_interp: where an mmap of the interpreter's whole span would go, top-down.
            long base = space.findFree(interpreterSpan[1] - interpreterSpan[0], 0);
            if (base < 0) throw new ElfException("no room in the address space for the interpreter");
            interpreterBias = base - interpreterSpan[0];
            mapSegments(space, interpreter, interpreterBias, interpreterGpa);
        }
        long phdr = findPhdr(elf, bias);

        long stackLow = STACK_TOP - stackBytes;
        if (!space.map(stackLow, stackBytes, Mman.PROT_READ | Mman.PROT_WRITE, "[stack]")) {
            throw new ElfException("the stack (" + stackBytes + " bytes) does not fit in the memory limit");
        }
        long sysinfoEhdr = vdso == null ? 0 : vdso.mapInto(space);
        long sp;
        try {
            sp = buildStack(space, elf, execPath, argv, envp, random16, bias, phdr, hwcap, stackLow, interpreterBias,
                    sysinfoEhdr);
        } catch (MemoryFault f) {
            throw new ElfException("arguments and environment do not fit on the stack");
        }
        long entry = interpreter == null ? elf.entry() + bias : interpreter.entry() + interpreterBias;
        return new Loaded(entry, sp, highest, bias, interpreterBias);
    }

    /**
     * Maps and fills the PT_LOAD segments of {@code elf} moved by {@code bias}; returns the end of the highest. With
     * {@code sharedGpa} (not -1), a read-only segment that sits in its pages as in the file's is mapped from the
     * shared pages instead, as an {@code mmap} of the file by {@code ld.so} would be.
     */
    private static long mapSegments(AddressSpace space, ElfFile elf, long bias, long sharedGpa) {
        long highest = 0;
        try {
            for (ElfFile.Segment s : elf.loadSegments()) {
                if (s.memSize() == 0) continue;
                long[] range = pageRange(s, bias);
                int prot = ((s.flags() & ElfFile.PF_R) != 0 ? Mman.PROT_READ : 0)
                        | ((s.flags() & ElfFile.PF_W) != 0 ? Mman.PROT_WRITE : 0)
                        | ((s.flags() & ElfFile.PF_X) != 0 ? Mman.PROT_EXEC : 0);
                highest = Math.max(highest, range[1]);
                if (sharedGpa >= 0 && (prot & Mman.PROT_WRITE) == 0 && s.fileSize() == s.memSize()
                        && (s.vaddr() - s.offset()) % PAGE_SIZE == 0 && space.isFree(range[0], range[1])
                        && space.mapShared(range[0], range[1] - range[0], prot == 0 ? Mman.PROT_READ : prot, "program",
                                sharedGpa + AddressSpace.pageDown(s.offset()), (range[1] - range[0]) / PAGE_SIZE)) {
                    continue; // the file's own pages, shared by every VM of its layer
                }
                mapMerging(space, range[0], range[1], prot == 0 ? Mman.PROT_READ : prot);
                space.poke(s.vaddr() + bias, elf.contents(s), 0, s.fileSize());
                highest = Math.max(highest, range[1]);
            }
        } catch (MemoryFault f) {
            throw new ElfException("segment does not fit: " + f.getMessage());
        }
        return highest;
    }

    /**
     * The pages of {@code elf}'s PT_LOAD segments where the file puts them (an interpreter's start at 0), as
     * {start, end} each: before it is placed, only that they fit below the top of user space is checked.
     */
    private static List<long[]> unplacedRanges(ElfFile elf) {
        List<long[]> ranges = new ArrayList<>();
        for (ElfFile.Segment s : elf.loadSegments()) {
            if (s.memSize() == 0) continue;
            if (s.vaddr() < 0 || s.vaddr() > AddressSpace.MMAP_TOP - s.memSize()) {
                throw new ElfException("segment at 0x" + Long.toHexString(s.vaddr()) + " is outside user memory");
            }
            ranges.add(new long[] {AddressSpace.pageDown(s.vaddr()), AddressSpace.pageUp(s.vaddr() + s.memSize())});
        }
        return ranges;
    }

    /** The pages from the lowest PT_LOAD to the end of the highest, unmoved, as {start, end}: what one mapping must hold. */
    private static long[] span(ElfFile elf) {
        long start = Long.MAX_VALUE, end = 0;
        for (long[] r : unplacedRanges(elf)) {
            start = Math.min(start, r[0]);
            end = Math.max(end, r[1]);
        }
        return new long[] {start, end};
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
                                   List<String> envp, byte[] random16, long bias, long phdr, long hwcap, long stackLow,
                                   long interpreterBias, long sysinfoEhdr) throws MemoryFault {
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
                {AT_SYSINFO_EHDR, sysinfoEhdr}, {AT_PHDR, phdr}, {AT_PHENT, 56}, {AT_PHNUM, elf.programHeaderCount()}, {AT_PAGESZ, PAGE_SIZE},
                {AT_BASE, interpreterBias}, {AT_FLAGS, 0}, {AT_ENTRY, elf.entry() + bias}, {AT_UID, OWNER.uid()}, {AT_EUID, OWNER.uid()},
                {AT_GID, OWNER.gid()}, {AT_EGID, OWNER.gid()}, {AT_SECURE, 0}, {AT_RANDOM, randomPtr}, {AT_HWCAP, hwcap},
                {AT_HWCAP2, 0}, {AT_CLKTCK, 100}, {AT_PLATFORM, platform}, {AT_EXECFN, execFn}, {AT_NULL, 0}};
        if (sysinfoEhdr == 0) auxv = java.util.Arrays.copyOfRange(auxv, 1, auxv.length); // no vDSO: no AT_SYSINFO_EHDR
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
