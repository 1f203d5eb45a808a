package dev.flicker.guest.elf;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parsing the real static test programs, and refusing damaged copies of them. */
class ElfFileTest {
    private static final Path PROGRAMS = Path.of("target/test-programs");

    private Arena arena;

    @BeforeEach
    void setUp() {
        arena = Arena.ofConfined();
    }

    @AfterEach
    void tearDown() {
        arena.close();
    }

    private MemorySegment map(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        }
    }

    private static byte[] bytes(String program) throws IOException {
        return Files.readAllBytes(PROGRAMS.resolve(program));
    }

    private static ElfFile parse(byte[] b) {
        return ElfFile.parse(MemorySegment.ofArray(b));
    }

    private static void putShort(byte[] b, int at, int v) {
        MemorySegment.ofArray(b).set(ValueLayout.JAVA_SHORT_UNALIGNED, at, (short) v);
    }

    private static void putInt(byte[] b, long at, int v) {
        MemorySegment.ofArray(b).set(ValueLayout.JAVA_INT_UNALIGNED, at, v);
    }

    private static void putLong(byte[] b, long at, long v) {
        MemorySegment.ofArray(b).set(ValueLayout.JAVA_LONG_UNALIGNED, at, v);
    }

    private static long getLong(byte[] b, long at) {
        return MemorySegment.ofArray(b).get(ValueLayout.JAVA_LONG_UNALIGNED, at);
    }

    private static int getShort(byte[] b, int at) {
        return Short.toUnsignedInt(MemorySegment.ofArray(b).get(ValueLayout.JAVA_SHORT_UNALIGNED, at));
    }

    /** File offset of the first program header of {@code type}. */
    private static long headerOffset(byte[] b, int type) {
        long phoff = getLong(b, 32);
        int phnum = getShort(b, 56);
        for (int i = 0; i < phnum; i++) {
            long o = phoff + 56L * i;
            if (MemorySegment.ofArray(b).get(ValueLayout.JAVA_INT_UNALIGNED, o) == type) return o;
        }
        throw new AssertionError("no program header of type " + type);
    }

    private static ElfException rejects(byte[] b, String messagePart) {
        ElfException e = assertThrows(ElfException.class, () -> parse(b));
        assertTrue(e.getMessage().contains(messagePart), () -> "message '" + e.getMessage() + "' lacks '" + messagePart + "'");
        return e;
    }

    // ---- real programs ----

    @ParameterizedTest
    @ValueSource(strings = {"musl/hello", "glibc/hello", "musl/echo", "glibc/readfile", "musl/time_random"})
    void staticExecutablesAreEtExecWithoutInterpreter(String program) throws IOException {
        MemorySegment file = map(PROGRAMS.resolve(program));
        ElfFile elf = ElfFile.parse(file);
        assertEquals(ElfFile.ET_EXEC, elf.type());
        assertFalse(elf.hasInterpreter());
        checkConsistentWithFile(elf, file);
    }

    @Test
    void staticPieIsEtDynWithoutInterpreter() throws IOException {
        MemorySegment file = map(PROGRAMS.resolve("pie/hello"));
        ElfFile elf = ElfFile.parse(file);
        assertEquals(ElfFile.ET_DYN, elf.type());
        assertFalse(elf.hasInterpreter());
        assertEquals(0, elf.loadSegments().getFirst().vaddr(), "a PIE is linked at 0");
        assertTrue(elf.segments().stream().anyMatch(s -> s.type() == ElfFile.PT_DYNAMIC));
        checkConsistentWithFile(elf, file);
    }

    @Test
    void muslHelloHasTheExpectedShape() throws IOException {
        MemorySegment file = map(PROGRAMS.resolve("musl/hello"));
        ElfFile elf = ElfFile.parse(file);
        assertEquals(64, elf.programHeaderOffset());
        assertEquals(file.get(ValueLayout.JAVA_LONG_UNALIGNED, 24), elf.entry());
        assertTrue(elf.entry() >= 0x400000 && elf.entry() < 0x500000, "linked at 4 MiB");
        assertTrue(elf.segments().stream().anyMatch(s -> s.type() == ElfFile.PT_GNU_STACK));
        // Exactly one writable load segment, and it has bss (memSize > fileSize).
        var writable = elf.loadSegments().stream().filter(s -> (s.flags() & ElfFile.PF_W) != 0).toList();
        assertEquals(1, writable.size());
        assertTrue(writable.getFirst().memSize() > writable.getFirst().fileSize());
        // Load segments are sorted by address and do not overlap.
        var loads = elf.loadSegments();
        for (int i = 1; i < loads.size(); i++) {
            assertTrue(loads.get(i - 1).vaddr() + loads.get(i - 1).memSize() <= loads.get(i).vaddr());
        }
    }

    private static void checkConsistentWithFile(ElfFile elf, MemorySegment file) {
        assertEquals(file, elf.bytes());
        int phnum = Short.toUnsignedInt(file.get(ValueLayout.JAVA_SHORT_UNALIGNED, 56));
        assertEquals(phnum, elf.programHeaderCount());
        assertEquals(phnum, elf.segments().size());
        assertEquals(file.get(ValueLayout.JAVA_LONG_UNALIGNED, 32), elf.programHeaderOffset());
        assertEquals(file.get(ValueLayout.JAVA_LONG_UNALIGNED, 24), elf.entry());
        assertFalse(elf.loadSegments().isEmpty());
        for (int i = 0; i < phnum; i++) {
            ElfFile.Segment s = elf.segments().get(i);
            long o = elf.programHeaderOffset() + 56L * i;
            assertEquals(file.get(ValueLayout.JAVA_INT_UNALIGNED, o), s.type());
            assertEquals(file.get(ValueLayout.JAVA_LONG_UNALIGNED, o + 16), s.vaddr());
            assertEquals(file.get(ValueLayout.JAVA_LONG_UNALIGNED, o + 40), s.memSize());
        }
        for (ElfFile.Segment s : elf.loadSegments()) {
            assertEquals(ElfFile.PT_LOAD, s.type());
            assertTrue(s.offset() >= 0 && s.offset() + s.fileSize() <= file.byteSize(), "segment inside the file");
            assertTrue(s.memSize() >= s.fileSize());
            assertEquals(s.fileSize(), elf.contents(s).byteSize());
            assertEquals(s.offset() % 4096, s.vaddr() % 4096, "congruent modulo the page size");
            if (s.fileSize() > 0) {
                assertEquals(file.get(ValueLayout.JAVA_BYTE, s.offset()), elf.contents(s).get(ValueLayout.JAVA_BYTE, 0));
            }
        }
        // The entry point lies in an executable load segment.
        assertTrue(elf.loadSegments().stream().anyMatch(s -> (s.flags() & ElfFile.PF_X) != 0
                && elf.entry() >= s.vaddr() && elf.entry() < s.vaddr() + s.memSize()));
    }

    @Test
    void heapCopyParsesLikeTheMappedFile() throws IOException {
        byte[] b = bytes("musl/hello");
        ElfFile fromHeap = parse(b);
        ElfFile fromMap = ElfFile.parse(map(PROGRAMS.resolve("musl/hello")));
        assertEquals(fromMap.segments(), fromHeap.segments());
        assertEquals(fromMap.entry(), fromHeap.entry());
        ElfFile.Segment text = fromHeap.loadSegments().get(1);
        byte[] expected = Arrays.copyOfRange(b, (int) text.offset(), (int) (text.offset() + text.fileSize()));
        assertArrayEquals(expected, fromHeap.contents(text).toArray(ValueLayout.JAVA_BYTE));
    }

    // ---- garbage ----

    @Test
    void rejectsFilesShorterThanTheHeader() throws IOException {
        byte[] b = bytes("musl/hello");
        rejects(Arrays.copyOf(b, 63), "only 63 bytes");
        rejects(new byte[0], "only 0 bytes");
        rejects(Arrays.copyOf(b, 4), "only 4 bytes");
    }

    @Test
    void rejectsBadMagic() throws IOException {
        byte[] b = bytes("musl/hello");
        b[0] = 0x7e;
        rejects(b, "bad magic");
        byte[] text = new byte[200];
        Arrays.fill(text, (byte) 'A');
        rejects(text, "bad magic");
        byte[] elfy = bytes("musl/hello");
        elfy[3] = 'G';
        rejects(elfy, "bad magic");
    }

    @Test
    void rejects32BitClass() throws IOException {
        byte[] b = bytes("musl/hello");
        b[4] = 1; // ELFCLASS32
        rejects(b, "64-bit");
        b[4] = 0;
        rejects(b, "64-bit");
    }

    @Test
    void rejectsBigEndian() throws IOException {
        byte[] b = bytes("musl/hello");
        b[5] = 2; // ELFDATA2MSB
        rejects(b, "little-endian");
    }

    @Test
    void rejectsOtherMachines() throws IOException {
        byte[] b = bytes("musl/hello");
        putShort(b, 18, 183); // EM_AARCH64
        rejects(b, "e_machine 183");
        putShort(b, 18, 3); // EM_386
        rejects(b, "e_machine 3");
    }

    @Test
    void rejectsUnexpectedProgramHeaderSize() throws IOException {
        byte[] b = bytes("musl/hello");
        putShort(b, 54, 32);
        rejects(b, "program header size 32");
    }

    @Test
    void rejectsProgramHeadersPastTheEnd() throws IOException {
        byte[] b = bytes("musl/hello");
        putLong(b, 32, b.length - 10);
        rejects(b, "program headers lie outside the file");

        byte[] c = bytes("musl/hello");
        putLong(c, 32, c.length); // starts exactly at the end
        rejects(c, "program headers lie outside the file");

        byte[] d = bytes("musl/hello");
        putLong(d, 32, -64);
        rejects(d, "program headers lie outside the file");

        byte[] e = bytes("musl/hello");
        putShort(e, 56, 257); // more headers than allowed
        rejects(e, "program headers lie outside the file");

        // An offset so large that offset + size overflows must not slip past the check.
        byte[] g = bytes("musl/hello");
        putLong(g, 32, Long.MAX_VALUE - 100);
        rejects(g, "program headers lie outside the file");

        // A file truncated in the middle of its program headers.
        byte[] f = Arrays.copyOf(bytes("musl/hello"), 64 + 56 * 2 + 10);
        rejects(f, "program headers lie outside the file");
    }

    @Test
    void programHeadersEndingExactlyAtTheEndAreAccepted() throws IOException {
        byte[] b = bytes("musl/hello");
        int phnum = getShort(b, 56);
        // Move the headers to the end of a copy with room for exactly phnum entries.
        byte[] moved = Arrays.copyOf(b, b.length + phnum * 56);
        System.arraycopy(b, 64, moved, b.length, phnum * 56);
        putLong(moved, 32, b.length);
        ElfFile elf = parse(moved);
        assertEquals(phnum, elf.programHeaderCount());
        assertEquals(parse(b).segments(), elf.segments());
    }

    @Test
    void rejectsSegmentOffsetPastTheEnd() throws IOException {
        byte[] b = bytes("musl/hello");
        long load = headerOffset(b, ElfFile.PT_LOAD);
        putLong(b, load + 8, b.length); // p_offset = file size, with a non-zero p_filesz
        rejects(b, "segment 0 lies outside the file");

        byte[] c = bytes("musl/hello");
        load = headerOffset(c, ElfFile.PT_LOAD);
        putLong(c, load + 32, c.length + 1L); // p_filesz larger than the file
        putLong(c, load + 40, c.length + 1L);
        rejects(c, "lies outside the file");

        byte[] d = bytes("musl/hello");
        load = headerOffset(d, ElfFile.PT_LOAD);
        putLong(d, load + 8, -4096); // negative offset
        rejects(d, "lies outside the file");

        byte[] e = bytes("musl/hello");
        load = headerOffset(e, ElfFile.PT_LOAD);
        putLong(e, load + 8, Long.MAX_VALUE - 8); // offset + size would overflow
        putLong(e, load + 32, 0x100);
        rejects(e, "lies outside the file");
    }

    @Test
    void rejectsNoteSegmentsOutsideTheFile() throws IOException {
        byte[] b = bytes("glibc/hello");
        long note = headerOffset(b, ElfFile.PT_NOTE);
        putLong(b, note + 8, b.length + 4096L);
        rejects(b, "lies outside the file");
    }

    @Test
    void rejectsSegmentsWithBadSizes() throws IOException {
        byte[] b = bytes("musl/hello");
        long load = headerOffset(b, ElfFile.PT_LOAD);
        putLong(b, load + 40, 0); // p_memsz < p_filesz
        rejects(b, "bad size");

        byte[] c = bytes("musl/hello");
        load = headerOffset(c, ElfFile.PT_LOAD);
        putLong(c, load + 40, (1L << 40) + 1); // absurd p_memsz
        rejects(c, "bad size");
    }

    @Test
    void segmentOffsetsOfNonLoadTypesAreNotUsed() throws IOException {
        // A GNU_STACK header with a wild offset is harmless: it is never read.
        byte[] b = bytes("musl/hello");
        long stack = headerOffset(b, ElfFile.PT_GNU_STACK);
        putLong(b, stack + 8, Long.MAX_VALUE);
        ElfFile elf = parse(b);
        assertNotNull(elf);
        assertEquals(Long.MAX_VALUE, elf.segments().stream().filter(s -> s.type() == ElfFile.PT_GNU_STACK)
                .findFirst().orElseThrow().offset());
    }

    @Test
    void interpreterIsReported() throws IOException {
        byte[] b = bytes("musl/hello");
        long stack = headerOffset(b, ElfFile.PT_GNU_STACK);
        putInt(b, stack, ElfFile.PT_INTERP);
        assertTrue(parse(b).hasInterpreter());
        assertEquals("/lib64/ld-linux-x86-64.so.2", parse(bytes("dynamic/hello_glibc")).interpreter());
        assertEquals("/lib/ld-musl-x86_64.so.1", parse(bytes("dynamic/hello_musl")).interpreter());
        assertNull(parse(bytes("musl/hello")).interpreter());
    }

    @Test
    void anInterpreterPathMustBeOneAbsolutePathInsideTheFile() throws IOException {
        byte[] b = bytes("dynamic/hello_glibc");
        long interp = headerOffset(b, ElfFile.PT_INTERP);
        long offset = MemorySegment.ofArray(b).get(ValueLayout.JAVA_LONG_UNALIGNED, interp + 8);
        byte[] outside = b.clone();
        putLong(outside, interp + 32, b.length); // p_filesz past the end of the file
        assertThrows(ElfException.class, () -> parse(outside));
        byte[] unterminated = b.clone();
        unterminated[(int) offset + "/lib64/ld-linux-x86-64.so.2".length()] = 'x';
        ElfException e = assertThrows(ElfException.class, () -> parse(unterminated).interpreter());
        assertTrue(e.getMessage().contains("NUL"), e.getMessage());
        byte[] relative = b.clone();
        relative[(int) offset] = 'l';
        assertThrows(ElfException.class, () -> parse(relative).interpreter());
        byte[] empty = b.clone();
        putLong(empty, interp + 32, 0);
        assertThrows(ElfException.class, () -> parse(empty).interpreter());
    }
}
