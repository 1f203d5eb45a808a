package dev.flicker.guest.elf;

import dev.flicker.guest.ProgramLoader;
import dev.flicker.guest.Vdso;
import dev.flicker.guest.abi.Mman;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;
import dev.flicker.guest.memory.PhysicalPages;
import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.x86.PageTables;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Loading the real static test programs into an address space kept in plain anonymous memory, and reading
 * the initial stack back the way the program would see it.
 */
class ProgramLoaderTest {
    private static final Path PROGRAMS = Path.of("target/test-programs");
    private static final long MEMORY = 64L << 20;
    private static final long STACK = 1L << 20;
    private static final byte[] RANDOM16 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, (byte) 0xFF};

    private GuestMemory memory;
    private Arena arena;

    @BeforeEach
    void setUp() {
        memory = GuestMemory.anonymous(GuestAddress.of(0), MEMORY);
        arena = Arena.ofConfined();
    }

    @AfterEach
    void tearDown() {
        arena.close();
        memory.close();
    }

    private AddressSpace space(long limitBytes) {
        PhysicalPages frames = new PhysicalPages(memory, 2L << 20, MEMORY);
        PageTables tables = new PageTables(memory, frames.allocate(), frames::allocate);
        return new AddressSpace(memory, tables, frames, limitBytes);
    }

    private ElfFile elf(String program) throws IOException {
        try (FileChannel ch = FileChannel.open(PROGRAMS.resolve(program), StandardOpenOption.READ)) {
            return ElfFile.parse(ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena));
        }
    }

    /** The initial stack, decoded. */
    private record Stack(long argc, List<Long> argv, List<Long> envp, Map<Long, Long> auxv, List<Long> auxvOrder,
                         long end) {}

    private static Stack decode(AddressSpace space, long sp) throws MemoryFault {
        long at = sp;
        long argc = space.copyInLong(at);
        at += 8;
        List<Long> argv = new java.util.ArrayList<>();
        for (long i = 0; i < argc; i++, at += 8) argv.add(space.copyInLong(at));
        assertEquals(0, space.copyInLong(at), "argv ends with NULL");
        at += 8;
        List<Long> envp = new java.util.ArrayList<>();
        for (long p; (p = space.copyInLong(at)) != 0; at += 8) envp.add(p);
        at += 8;
        Map<Long, Long> auxv = new HashMap<>();
        List<Long> order = new java.util.ArrayList<>();
        while (true) {
            long key = space.copyInLong(at), value = space.copyInLong(at + 8);
            at += 16;
            if (key == ProgramLoader.AT_NULL) break;
            assertTrue(auxv.put(key, value) == null, "auxv key " + key + " appears once");
            order.add(key);
            assertTrue(order.size() < 64, "auxv terminated");
        }
        return new Stack(argc, argv, envp, auxv, order, at);
    }

    @Test
    void muslHelloGetsArgvEnvpAndAuxv() throws Exception {
        AddressSpace space = space(32L << 20);
        ElfFile elf = elf("musl/hello");
        ProgramLoader.Loaded loaded = ProgramLoader.load(space, elf, null, "/var/task/hello", List.of("/var/task/hello", "a"),
                List.of("X=1"), RANDOM16, STACK, 0x178BFBFFL);

        assertEquals(elf.entry(), loaded.entry());
        assertEquals(0, loaded.loadBias());
        long sp = loaded.stackPointer();
        assertEquals(0, sp % 16, "rsp is 16-byte aligned at entry");
        assertTrue(sp >= ProgramLoader.STACK_TOP - STACK && sp < ProgramLoader.STACK_TOP);

        Stack stack = decode(space, sp);
        assertEquals(2, stack.argc());
        assertEquals("/var/task/hello", space.copyInString(stack.argv().get(0), 4096));
        assertEquals("a", space.copyInString(stack.argv().get(1), 4096));
        assertEquals(1, stack.envp().size());
        assertEquals("X=1", space.copyInString(stack.envp().getFirst(), 4096));

        Map<Long, Long> aux = stack.auxv();
        assertEquals(4096L, aux.get((long) ProgramLoader.AT_PAGESZ));
        assertEquals(elf.entry(), aux.get((long) ProgramLoader.AT_ENTRY));
        assertEquals(56L, aux.get((long) ProgramLoader.AT_PHENT));
        assertEquals((long) elf.programHeaderCount(), aux.get((long) ProgramLoader.AT_PHNUM));
        assertEquals(0L, aux.get((long) ProgramLoader.AT_BASE), "no interpreter");
        assertEquals(0L, aux.get((long) ProgramLoader.AT_SECURE));
        assertEquals(100L, aux.get((long) ProgramLoader.AT_CLKTCK));
        assertEquals(0x178BFBFFL, aux.get((long) ProgramLoader.AT_HWCAP));
        assertEquals(1000L, aux.get((long) ProgramLoader.AT_UID));
        assertEquals(1000L, aux.get((long) ProgramLoader.AT_EGID));

        // AT_PHDR: the program headers as mapped, byte for byte the file's.
        long phdr = aux.get((long) ProgramLoader.AT_PHDR);
        assertEquals(0x400000L + elf.programHeaderOffset(), phdr, "headers sit in the first segment at their file offset");
        int phBytes = elf.programHeaderCount() * 56;
        byte[] inFile = elf.bytes().asSlice(elf.programHeaderOffset(), phBytes).toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(inFile, space.copyInBytes(phdr, phBytes));

        // AT_RANDOM: the 16 bytes given.
        assertArrayEquals(RANDOM16, space.copyInBytes(aux.get((long) ProgramLoader.AT_RANDOM), 16));
        assertEquals("/var/task/hello", space.copyInString(aux.get((long) ProgramLoader.AT_EXECFN), 4096));
        assertEquals("x86_64", space.copyInString(aux.get((long) ProgramLoader.AT_PLATFORM), 4096));

        // Strings, random bytes and pointer block all lie in the stack, above the pointers.
        for (long p : List.of(stack.argv().get(0), stack.argv().get(1), stack.envp().getFirst(),
                aux.get((long) ProgramLoader.AT_RANDOM), aux.get((long) ProgramLoader.AT_EXECFN))) {
            assertTrue(p >= stack.end() && p < ProgramLoader.STACK_TOP, "0x" + Long.toHexString(p));
        }
        // The argument strings are distinct memory: the execfn string is not argv[0]'s.
        assertTrue(aux.get((long) ProgramLoader.AT_EXECFN) != stack.argv().get(0));
    }

    @Test
    void aDynamicProgramStartsInItsInterpreterWhichFindsItThroughTheAuxiliaryVector() throws Exception {
        AddressSpace space = space(32L << 20);
        ElfFile program = elf("dynamic/hello_glibc"), ldso = elf("libc-layer/lib64/ld-linux-x86-64.so.2");
        assertEquals(ElfFile.ET_DYN, program.type(), "Debian's gcc makes a PIE");
        assertEquals("/lib64/ld-linux-x86-64.so.2", program.interpreter());
        ProgramLoader.Loaded loaded = ProgramLoader.load(space, program, ldso, "/usr/bin/hello",
                List.of("/usr/bin/hello"), List.of(), RANDOM16, STACK, 0);

        long base = loaded.interpreterBase();
        assertEquals(0, base % 4096);
        assertTrue(base > ProgramLoader.PIE_BASE && base < AddressSpace.MMAP_TOP, "the interpreter lies where mmap "
                + "would put it, top-down: 0x" + Long.toHexString(base));
        assertEquals(ldso.entry() + base, loaded.entry(), "execution starts at the dynamic loader's entry");
        assertEquals(ProgramLoader.PIE_BASE, loaded.loadBias() + program.loadSegments().getFirst().vaddr() / 4096 * 4096);
        Map<Long, Long> aux = decode(space, loaded.stackPointer()).auxv();
        assertEquals(base, aux.get((long) ProgramLoader.AT_BASE));
        assertEquals(program.entry() + loaded.loadBias(), aux.get((long) ProgramLoader.AT_ENTRY), "the program's entry");
        long phdr = aux.get((long) ProgramLoader.AT_PHDR);
        long phdrVaddr = program.segments().stream().filter(s -> s.type() == ElfFile.PT_PHDR).findFirst().orElseThrow().vaddr();
        assertEquals(phdrVaddr + loaded.loadBias(), phdr);
        assertArrayEquals(program.bytes().asSlice(program.programHeaderOffset(), program.programHeaderCount() * 56L)
                .toArray(ValueLayout.JAVA_BYTE), space.copyInBytes(phdr, program.programHeaderCount() * 56));
        assertEquals((long) program.programHeaderCount(), aux.get((long) ProgramLoader.AT_PHNUM));
        assertEquals("/usr/bin/hello", space.copyInString(aux.get((long) ProgramLoader.AT_EXECFN), 4096));
        // The dynamic loader's first segment holds its ELF header, where it was loaded.
        assertArrayEquals(ldso.bytes().asSlice(0, 64).toArray(ValueLayout.JAVA_BYTE), space.copyInBytes(base, 64));
        // The heap starts past the program, not past its interpreter.
        long programEnd = 0;
        for (ElfFile.Segment s : program.loadSegments()) programEnd = Math.max(programEnd, s.vaddr() + s.memSize());
        assertEquals(AddressSpace.pageUp(programEnd + loaded.loadBias()), loaded.brkStart());
    }

    @Test
    void theInterpreterMustBeASharedObjectWithoutAnInterpreterOfItsOwn() throws Exception {
        AddressSpace space = space(32L << 20);
        ElfFile program = elf("dynamic/hello_glibc");
        ElfException e = assertThrows(ElfException.class, () -> ProgramLoader.load(space, program, elf("musl/hello"),
                "/p", List.of("/p"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("not a shared object"), e.getMessage());
        e = assertThrows(ElfException.class, () -> ProgramLoader.load(space, program, program, "/p", List.of("/p"),
                List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("needs an interpreter itself"), e.getMessage());
        e = assertThrows(ElfException.class, () -> ProgramLoader.load(space, elf("musl/hello"),
                elf("libc-layer/lib64/ld-linux-x86-64.so.2"), "/p", List.of("/p"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("static program takes no interpreter"), e.getMessage());
        assertEquals(0, space.committedBytes(), "nothing was mapped");
    }

    @Test
    void aProgramAndItsInterpreterMustFitTheLimitTogether() throws Exception {
        ElfFile program = elf("dynamic/hello_glibc"), ldso = elf("libc-layer/lib64/ld-linux-x86-64.so.2");
        AddressSpace space = space(64L << 10); // room for the program's few pages, not for ld.so's 200 KiB besides
        ElfException e = assertThrows(ElfException.class, () -> ProgramLoader.load(space, program, ldso, "/p",
                List.of("/p"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("does not fit in its memory limit"), e.getMessage());
        assertEquals(0, space.committedBytes(), "nothing was mapped");
    }

    @Test
    void segmentsAreLoadedWithTheirProtectionAndBss() throws Exception {
        AddressSpace space = space(32L << 20);
        ElfFile elf = elf("musl/hello");
        ProgramLoader.Loaded loaded = ProgramLoader.load(space, elf, null, "/var/task/hello", List.of("/var/task/hello"),
                List.of(), RANDOM16, STACK, 0);

        long highest = 0;
        for (ElfFile.Segment s : elf.loadSegments()) {
            byte[] expected = elf.contents(s).toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(expected, space.copyInBytes(s.vaddr(), expected.length), "segment at 0x" + Long.toHexString(s.vaddr()));
            if (s.memSize() > s.fileSize()) {
                byte[] bss = space.copyInBytes(s.vaddr() + s.fileSize(), (int) (s.memSize() - s.fileSize()));
                assertArrayEquals(new byte[bss.length], bss, "bss is zero");
            }
            AddressSpace.Mapping m = space.mappingAt(s.vaddr());
            assertNotNull(m);
            int expectedProt = ((s.flags() & ElfFile.PF_R) != 0 ? Mman.PROT_READ : 0)
                    | ((s.flags() & ElfFile.PF_W) != 0 ? Mman.PROT_WRITE : 0)
                    | ((s.flags() & ElfFile.PF_X) != 0 ? Mman.PROT_EXEC : 0);
            assertEquals(expectedProt, m.prot(), "protection of 0x" + Long.toHexString(s.vaddr()));
            highest = Math.max(highest, AddressSpace.pageUp(s.vaddr() + s.memSize()));
        }
        assertEquals(highest, loaded.brkStart(), "the heap starts after the last segment");

        // Text is read-only to the program; data is writable.
        ElfFile.Segment text = elf.loadSegments().stream().filter(s -> (s.flags() & ElfFile.PF_X) != 0).findFirst().orElseThrow();
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(text.vaddr(), new byte[] {(byte) 0xCC}));
        ElfFile.Segment data = elf.loadSegments().stream().filter(s -> (s.flags() & ElfFile.PF_W) != 0).findFirst().orElseThrow();
        space.copyOutLong(data.vaddr() + data.memSize() - 8, 0x1122334455667788L);
        assertEquals(0x1122334455667788L, space.copyInLong(data.vaddr() + data.memSize() - 8));

        // Committed memory: every program page and the stack.
        long programPages = 0;
        for (ElfFile.Segment s : elf.loadSegments()) {
            programPages += (AddressSpace.pageUp(s.vaddr() + s.memSize()) - AddressSpace.pageDown(s.vaddr())) / 4096;
        }
        assertEquals(programPages * 4096 + STACK, space.committedBytes());
        AddressSpace.Mapping stack = space.mappingAt(ProgramLoader.STACK_TOP - 1);
        assertNotNull(stack);
        assertEquals("[stack]", stack.name());
        assertEquals(ProgramLoader.STACK_TOP - STACK, stack.start());
        assertEquals(Mman.PROT_READ | Mman.PROT_WRITE, stack.prot());
    }

    @Test
    void glibcHelloLoadsToo() throws Exception {
        AddressSpace space = space(32L << 20);
        ElfFile elf = elf("glibc/hello");
        ProgramLoader.Loaded loaded = ProgramLoader.load(space, elf, null, "/var/task/hello", List.of("/var/task/hello"),
                List.of("A=b", "C=d"), RANDOM16, STACK, 0);
        assertEquals(elf.entry(), loaded.entry());
        Stack stack = decode(space, loaded.stackPointer());
        assertEquals(1, stack.argc());
        assertEquals(List.of("A=b", "C=d"), List.of(space.copyInString(stack.envp().get(0), 100),
                space.copyInString(stack.envp().get(1), 100)));
        long phdr = stack.auxv().get((long) ProgramLoader.AT_PHDR);
        int phBytes = elf.programHeaderCount() * 56;
        assertArrayEquals(elf.bytes().asSlice(elf.programHeaderOffset(), phBytes).toArray(ValueLayout.JAVA_BYTE),
                space.copyInBytes(phdr, phBytes));
    }

    @Test
    void staticPieIsLoadedAtTheBias() throws Exception {
        AddressSpace space = space(32L << 20);
        ElfFile elf = elf("pie/hello");
        ProgramLoader.Loaded loaded = ProgramLoader.load(space, elf, null, "/var/task/hello", List.of("/var/task/hello"),
                List.of(), RANDOM16, STACK, 0);
        assertEquals(ProgramLoader.PIE_BASE, loaded.loadBias());
        assertEquals(elf.entry() + ProgramLoader.PIE_BASE, loaded.entry());

        Stack stack = decode(space, loaded.stackPointer());
        assertEquals(elf.entry() + ProgramLoader.PIE_BASE, stack.auxv().get((long) ProgramLoader.AT_ENTRY));
        long phdr = stack.auxv().get((long) ProgramLoader.AT_PHDR);
        assertEquals(ProgramLoader.PIE_BASE + elf.programHeaderOffset(), phdr);
        int phBytes = elf.programHeaderCount() * 56;
        assertArrayEquals(elf.bytes().asSlice(elf.programHeaderOffset(), phBytes).toArray(ValueLayout.JAVA_BYTE),
                space.copyInBytes(phdr, phBytes));

        for (ElfFile.Segment s : elf.loadSegments()) {
            byte[] expected = elf.contents(s).toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(expected, space.copyInBytes(s.vaddr() + ProgramLoader.PIE_BASE, expected.length));
        }
        // Nothing is mapped at the link addresses themselves.
        assertEquals(null, space.mappingAt(elf.entry()));
        assertNotNull(space.mappingAt(loaded.entry()));
        assertTrue(loaded.brkStart() > ProgramLoader.PIE_BASE);
    }

    @Test
    void programTooBigForTheLimitIsRefused() throws Exception {
        AddressSpace space = space(64L << 10);
        ElfFile elf = elf("pie/hello"); // about 800 KiB of segments
        ElfException e = assertThrows(ElfException.class, () -> ProgramLoader.load(space, elf, null, "/var/task/hello",
                List.of("/var/task/hello"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
        assertTrue(space.committedBytes() <= space.limitBytes());
    }

    @Test
    void stackTooBigForTheLimitIsRefused() throws Exception {
        AddressSpace space = space(64L << 10);
        ElfFile elf = elf("musl/hello"); // 32 KiB of segments fit; a 1 MiB stack does not
        ElfException e = assertThrows(ElfException.class, () -> ProgramLoader.load(space, elf, null, "/var/task/hello",
                List.of("/var/task/hello"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("stack"), e.getMessage());
        assertTrue(space.committedBytes() <= space.limitBytes());
    }

    @Test
    void argumentsThatDoNotFitOnTheStackAreRefused() throws Exception {
        AddressSpace space = space(32L << 20);
        ElfFile elf = elf("musl/hello");
        String huge = "X=" + "y".repeat(20_000);
        ElfException e = assertThrows(ElfException.class, () -> ProgramLoader.load(space, elf, null, "/var/task/hello",
                List.of("/var/task/hello"), List.of(huge), RANDOM16, 16 << 10, 0));
        assertTrue(e.getMessage().contains("do not fit on the stack"), e.getMessage());
    }

    @Test
    void nonExecutablesAndDynamicProgramsAreRefused() throws Exception {
        byte[] b = Files.readAllBytes(PROGRAMS.resolve("musl/hello"));
        byte[] rel = b.clone();
        MemorySegment.ofArray(rel).set(ValueLayout.JAVA_SHORT_UNALIGNED, 16, (short) 1); // ET_REL
        ElfException e = assertThrows(ElfException.class, () -> ProgramLoader.load(space(32L << 20),
                ElfFile.parse(MemorySegment.ofArray(rel)), null, "/p", List.of("/p"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("ELF type 1"), e.getMessage());

        byte[] dyn = b.clone();
        ElfFile plain = ElfFile.parse(MemorySegment.ofArray(b));
        int stackIndex = plain.segments().indexOf(plain.segments().stream()
                .filter(s -> s.type() == ElfFile.PT_GNU_STACK).findFirst().orElseThrow());
        MemorySegment.ofArray(dyn).set(ValueLayout.JAVA_INT_UNALIGNED, plain.programHeaderOffset() + 56L * stackIndex,
                ElfFile.PT_INTERP);
        AddressSpace space = space(32L << 20);
        e = assertThrows(ElfException.class, () -> ProgramLoader.load(space, ElfFile.parse(MemorySegment.ofArray(dyn)), null,
                "/p", List.of("/p"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("dynamically linked"), e.getMessage());
        assertEquals(0, space.committedBytes(), "nothing was mapped");
    }

    @Test
    void segmentsOutsideUserMemoryAreRefused() throws Exception {
        byte[] b = Files.readAllBytes(PROGRAMS.resolve("musl/hello"));
        ElfFile plain = ElfFile.parse(MemorySegment.ofArray(b));
        int firstLoad = plain.segments().indexOf(plain.loadSegments().getFirst());
        long vaddrAt = plain.programHeaderOffset() + 56L * firstLoad + 16;

        byte[] low = b.clone();
        MemorySegment.ofArray(low).set(ValueLayout.JAVA_LONG_UNALIGNED, vaddrAt, 0x1000L); // below mmap_min_addr
        ElfException e = assertThrows(ElfException.class, () -> ProgramLoader.load(space(32L << 20),
                ElfFile.parse(MemorySegment.ofArray(low)), null, "/p", List.of("/p"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("outside user memory"), e.getMessage());

        byte[] kernel = b.clone();
        MemorySegment.ofArray(kernel).set(ValueLayout.JAVA_LONG_UNALIGNED, vaddrAt, 0xFFFF_FFFF_8000_0000L);
        e = assertThrows(ElfException.class, () -> ProgramLoader.load(space(32L << 20),
                ElfFile.parse(MemorySegment.ofArray(kernel)), null, "/p", List.of("/p"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("outside user memory"), e.getMessage());

        byte[] wrap = b.clone();
        MemorySegment.ofArray(wrap).set(ValueLayout.JAVA_LONG_UNALIGNED, vaddrAt, Long.MAX_VALUE - 0x10);
        e = assertThrows(ElfException.class, () -> ProgramLoader.load(space(32L << 20),
                ElfFile.parse(MemorySegment.ofArray(wrap)), null, "/p", List.of("/p"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("outside user memory"), e.getMessage());
    }

    @Test
    void aTerabyteSegmentIsRefusedAtOnce() throws Exception {
        // The loader used to map the other segments, then look for the end of the gap page by page (2^28 lookups,
        // most of a second) before the limit refused it.
        byte[] b = Files.readAllBytes(PROGRAMS.resolve("musl/hello"));
        ElfFile plain = ElfFile.parse(MemorySegment.ofArray(b));
        int lastLoad = plain.segments().indexOf(plain.loadSegments().getLast());
        byte[] huge = b.clone();
        MemorySegment.ofArray(huge).set(ValueLayout.JAVA_LONG_UNALIGNED, plain.programHeaderOffset() + 56L * lastLoad + 40,
                1L << 40); // p_memsz: the most ElfFile accepts
        AddressSpace space = space(32L << 20);
        ElfException e = assertThrows(ElfException.class, () -> ProgramLoader.load(space,
                ElfFile.parse(MemorySegment.ofArray(huge)), null, "/p", List.of("/p"), List.of(), RANDOM16, STACK, 0));
        assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
        assertTrue(space.mappings().isEmpty(), "refused before anything was mapped");
        assertEquals(0, space.committedBytes());
    }

    @Test
    void argvOrderIsKept() throws Exception {
        AddressSpace space = space(32L << 20);
        List<String> argv = List.of("/var/task/echo", "one", "", "three with spaces", "é");
        ProgramLoader.Loaded loaded = ProgramLoader.load(space, elf("musl/echo"), null, "/var/task/echo", argv,
                List.of(), RANDOM16, STACK, 0);
        Stack stack = decode(space, loaded.stackPointer());
        assertEquals(argv.size(), stack.argc());
        for (int i = 0; i < argv.size(); i++) assertEquals(argv.get(i), space.copyInString(stack.argv().get(i), 4096));
        assertEquals(List.of(), stack.envp());
        assertEquals(0, loaded.stackPointer() % 16);
        assertArrayEquals(RANDOM16, space.copyInBytes(stack.auxv().get((long) ProgramLoader.AT_RANDOM), 16));
        assertTrue(Arrays.equals(RANDOM16, space.copyInBytes(stack.auxv().get((long) ProgramLoader.AT_RANDOM), 16)));
    }

    @Test
    void theVdsoAndItsParameterPageAreMappedAndNamedByAtSysinfoEhdr() throws Exception {
        AddressSpace space = space(32L << 20);
        ProgramLoader.Loaded loaded = ProgramLoader.load(space, elf("musl/hello"), null, "/var/task/hello",
                List.of("/var/task/hello"), List.of(), RANDOM16, STACK, 0, Vdso.builtIn());
        Map<Long, Long> aux = decode(space, loaded.stackPointer()).auxv();
        assertEquals(Vdso.IMAGE_VA, aux.get((long) ProgramLoader.AT_SYSINFO_EHDR));
        assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F'}, space.copyInBytes(Vdso.IMAGE_VA, 4), "the image's ELF header");
        AddressSpace.Mapping image = space.mappingAt(Vdso.IMAGE_VA), params = space.mappingAt(Vdso.PARAMS_VA);
        assertEquals(Vdso.IMAGE_NAME, image.name());
        assertEquals(Mman.PROT_READ | Mman.PROT_EXEC, image.prot());
        assertEquals(Vdso.PARAMS_NAME, params.name());
        assertEquals(Mman.PROT_READ, params.prot(), "the program reads its clock page and cannot write it");
        assertArrayEquals(new byte[8], space.copyInBytes(Vdso.PARAMS_VA, 8), "version 0 until the host fills it");
        AddressSpace plain = space(32L << 20); // over the same memory: everything above is checked
        Map<Long, Long> without = decode(plain, ProgramLoader.load(plain, elf("musl/hello"), null, "/p", List.of("/p"),
                List.of(), RANDOM16, STACK, 0).stackPointer()).auxv();
        assertFalse(without.containsKey((long) ProgramLoader.AT_SYSINFO_EHDR), "no vDSO: no AT_SYSINFO_EHDR");
    }
}
