package dev.flicker.guest.memory;

import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.x86.PageTables;
import dev.flicker.kvm.x86.X86;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.flicker.guest.abi.Mman.PROT_EXEC;
import static dev.flicker.guest.abi.Mman.PROT_NONE;
import static dev.flicker.guest.abi.Mman.PROT_READ;
import static dev.flicker.guest.abi.Mman.PROT_WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host's view of program memory: mappings, accounting and checked access, on plain anonymous memory. */
class AddressSpaceTest {
    private static final long PAGE = 4096;
    private static final long MEMORY = 16L << 20;
    private static final long LIMIT_PAGES = 64;
    private static final int RW = PROT_READ | PROT_WRITE;
    private static final long A = 0x1000_0000L;

    private GuestMemory memory;
    private PhysicalPages frames;
    private PageTables tables;
    private AddressSpace space;

    @BeforeEach
    void setUp() {
        memory = GuestMemory.anonymous(GuestAddress.of(0), MEMORY);
        frames = new PhysicalPages(memory, 1L << 20, MEMORY);
        tables = new PageTables(memory, frames.allocate(), frames::allocate);
        space = new AddressSpace(memory, tables, frames, LIMIT_PAGES * PAGE);
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    // ---- page arithmetic ----

    @Test
    void pageRounding() {
        assertEquals(0x1000, AddressSpace.pageDown(0x1FFF));
        assertEquals(0x2000, AddressSpace.pageUp(0x1001));
        assertEquals(0x2000, AddressSpace.pageUp(0x2000));
        assertEquals(0, AddressSpace.pageUp(0));
        assertEquals(LIMIT_PAGES * PAGE, space.limitBytes());
    }

    // ---- mappings and accounting ----

    @Test
    void mapCommitsAccessiblePages() throws MemoryFault {
        assertEquals(0, space.committedBytes());
        assertTrue(space.map(A, 3 * PAGE, RW, "a"));
        assertEquals(3 * PAGE, space.committedBytes());
        assertEquals(1, space.mappings().size());
        AddressSpace.Mapping m = space.mappingAt(A + PAGE + 5);
        assertNotNull(m);
        assertEquals(A, m.start());
        assertEquals(A + 3 * PAGE, m.end());
        assertEquals(RW, m.prot());
        assertEquals("a", m.name());
        assertNull(space.mappingAt(A + 3 * PAGE));
        assertNull(space.mappingAt(A - 1));
        // Fresh memory reads as zero.
        assertArrayEquals(new byte[(int) (3 * PAGE)], space.copyInBytes(A, (int) (3 * PAGE)));
    }

    @Test
    void protNoneReservationsCostNothing() {
        assertTrue(space.map(A, 1000 * PAGE, 0, "reserve"), "larger than the limit, but PROT_NONE");
        assertEquals(0, space.committedBytes());
        assertEquals(0, space.mappingAt(A).prot());
        assertThrows(MemoryFault.class, () -> space.copyInBytes(A, 1));
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(A, new byte[1]));
    }

    @Test
    void protectSplitsMappingsAndAdjustsCommitment() throws MemoryFault {
        assertTrue(space.map(A, 3 * PAGE, RW, "a"));
        assertTrue(space.protect(A + PAGE, A + 2 * PAGE, 0));
        assertEquals(2 * PAGE, space.committedBytes());
        List<AddressSpace.Mapping> ms = space.mappings();
        assertEquals(3, ms.size());
        assertEquals(List.of(A, A + PAGE, A + 2 * PAGE), ms.stream().map(AddressSpace.Mapping::start).toList());
        assertEquals(List.of(RW, 0, RW), ms.stream().map(AddressSpace.Mapping::prot).toList());
        assertEquals(List.of("a", "a", "a"), ms.stream().map(AddressSpace.Mapping::name).toList());

        // Read-only costs the same as read-write.
        assertTrue(space.protect(A, A + PAGE, PROT_READ));
        assertEquals(2 * PAGE, space.committedBytes());

        assertTrue(space.protect(A + PAGE, A + 2 * PAGE, RW));
        assertEquals(3 * PAGE, space.committedBytes());
        space.copyOutBytes(A + PAGE, ascii("x"));
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(A, ascii("x")));
    }

    @Test
    void unmapSplitsAndReleasesCommitment() {
        assertTrue(space.map(A, 4 * PAGE, RW, "a"));
        space.unmap(A + PAGE, A + 2 * PAGE);
        assertEquals(3 * PAGE, space.committedBytes());
        assertEquals(2, space.mappings().size());
        assertNull(space.mappingAt(A + PAGE));
        assertNotNull(space.mappingAt(A));
        assertNotNull(space.mappingAt(A + 2 * PAGE));
        assertThrows(MemoryFault.class, () -> space.copyInBytes(A + PAGE, 1));

        // Unmapping a range with gaps and parts of mappings.
        space.unmap(A - 10 * PAGE, A + 3 * PAGE);
        assertEquals(PAGE, space.committedBytes());
        assertEquals(1, space.mappings().size());
        assertEquals(A + 3 * PAGE, space.mappings().getFirst().start());

        // Unmapping nothing changes nothing.
        space.unmap(A + 100 * PAGE, A + 200 * PAGE);
        assertEquals(PAGE, space.committedBytes());

        // PROT_NONE pages were never counted, so unmapping them gives nothing back.
        assertTrue(space.map(A, PAGE, 0, "none"));
        space.unmap(A, A + PAGE);
        assertEquals(PAGE, space.committedBytes());
    }

    @Test
    void mapPastTheLimitFailsAndChangesNothing() throws MemoryFault {
        assertTrue(space.map(A, (LIMIT_PAGES - 2) * PAGE, RW, "big"));
        space.copyOutBytes(A, ascii("keep"));
        long usedFrames = frames.remaining();
        List<AddressSpace.Mapping> before = space.mappings();

        assertFalse(space.map(A + 100 * PAGE, 3 * PAGE, RW, "over"));
        assertEquals((LIMIT_PAGES - 2) * PAGE, space.committedBytes());
        assertEquals(before.size(), space.mappings().size());
        assertNull(space.mappingAt(A + 100 * PAGE));
        assertEquals(usedFrames, frames.remaining(), "no frames were taken");
        assertThrows(MemoryFault.class, () -> space.copyInBytes(A + 100 * PAGE, 1));
        assertEquals("keep", new String(space.copyInBytes(A, 4), StandardCharsets.US_ASCII));

        // Exactly up to the limit still works.
        assertTrue(space.map(A + 100 * PAGE, 2 * PAGE, RW, "fits"));
        assertEquals(LIMIT_PAGES * PAGE, space.committedBytes());
        assertFalse(space.map(A + 200 * PAGE, PAGE, PROT_READ, "one more"));
        // A reservation is still allowed at the limit.
        assertTrue(space.map(A + 200 * PAGE, PAGE, 0, "reservation"));
    }

    @Test
    void protectPastTheLimitFailsAndChangesNothing() throws MemoryFault {
        assertTrue(space.map(A, (LIMIT_PAGES - 1) * PAGE, RW, "big"));
        assertTrue(space.map(A + 100 * PAGE, 2 * PAGE, 0, "reserve"));
        assertFalse(space.protect(A + 100 * PAGE, A + 102 * PAGE, RW));
        assertEquals((LIMIT_PAGES - 1) * PAGE, space.committedBytes());
        assertEquals(0, space.mappingAt(A + 100 * PAGE).prot());
        assertEquals(2, space.mappings().size());
        assertThrows(MemoryFault.class, () -> space.copyInBytes(A + 100 * PAGE, 1));

        // One page fits.
        assertTrue(space.protect(A + 100 * PAGE, A + 101 * PAGE, RW));
        assertEquals(LIMIT_PAGES * PAGE, space.committedBytes());
        assertArrayEquals(new byte[8], space.copyInBytes(A + 100 * PAGE, 8));
    }

    @Test
    void badMappingArgumentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> space.map(A + 1, PAGE, RW, "x"));
        assertThrows(IllegalArgumentException.class, () -> space.map(A, 100, RW, "x"));
        assertThrows(IllegalArgumentException.class, () -> space.map(A, 0, RW, "x"));
        assertThrows(IllegalArgumentException.class, () -> space.map(0x1000, PAGE, RW, "x"));
        assertThrows(IllegalArgumentException.class, () -> space.map(AddressSpace.USER_VA_END, PAGE, RW, "x"));
        assertEquals(0, space.committedBytes());
        assertTrue(space.mappings().isEmpty());
    }

    @Test
    void isFreeAndIsFullyMapped() {
        assertTrue(space.map(A, 2 * PAGE, RW, "a"));
        assertTrue(space.map(A + 2 * PAGE, PAGE, 0, "b"));
        assertTrue(space.map(A + 5 * PAGE, PAGE, RW, "c"));
        assertTrue(space.isFullyMapped(A, A + 3 * PAGE));
        assertFalse(space.isFullyMapped(A, A + 4 * PAGE));
        assertFalse(space.isFullyMapped(A - PAGE, A + PAGE));
        assertTrue(space.isFree(A + 3 * PAGE, A + 5 * PAGE));
        assertFalse(space.isFree(A + 3 * PAGE, A + 6 * PAGE));
        assertFalse(space.isFree(A - PAGE, A + PAGE));
        assertTrue(space.isFree(A - PAGE, A));
    }

    // ---- findFree ----

    @Test
    void findFreeSearchesDownFromMmapTop() {
        long first = space.findFree(4 * PAGE, 0);
        assertEquals(AddressSpace.MMAP_TOP - 4 * PAGE, first);
        List<long[]> ranges = new ArrayList<>();
        long length = 4 * PAGE;
        for (int i = 0; i < 10; i++) {
            long len = (i % 3 + 1) * PAGE;
            long at = space.findFree(len, 0);
            assertTrue(at >= AddressSpace.MIN_USER_VA && at + len <= AddressSpace.MMAP_TOP);
            assertEquals(0, at % PAGE);
            assertTrue(space.isFree(at, at + len));
            assertTrue(space.map(at, len, i % 2 == 0 ? RW : 0, "m" + i));
            for (long[] r : ranges) assertTrue(at + len <= r[0] || r[1] <= at, "ranges do not overlap");
            if (!ranges.isEmpty()) assertTrue(at < ranges.getLast()[0], "top-down");
            ranges.add(new long[] {at, at + len});
        }
        assertEquals(AddressSpace.MMAP_TOP, ranges.getFirst()[1], "the first one sits just under MMAP_TOP");
        // A hole left by an unmap is reused when big enough, and is the highest free range.
        long[] hole = ranges.get(2);
        space.unmap(hole[0], hole[1]);
        assertEquals(hole[0], space.findFree(hole[1] - hole[0], 0));
        assertEquals(hole[1] - PAGE, space.findFree(PAGE, 0), "a smaller request takes the top of the hole");
        assertTrue(space.findFree(length * 10, 0) < ranges.getLast()[0], "too big for the hole: below everything");
    }

    @Test
    void findFreeHonoursAFreeHint() {
        long hint = 0x2000_0000L;
        assertEquals(hint, space.findFree(3 * PAGE, hint));
        assertTrue(space.map(hint, 3 * PAGE, RW, "at hint"));
        // The hint is now taken: the search falls back to top-down.
        assertEquals(AddressSpace.MMAP_TOP - PAGE, space.findFree(PAGE, hint));
        assertEquals(AddressSpace.MMAP_TOP - PAGE, space.findFree(PAGE, hint + PAGE), "overlapping hint");
        // Just after it is free.
        assertEquals(hint + 3 * PAGE, space.findFree(PAGE, hint + 3 * PAGE));
        // Hints below mmap_min_addr or past the user half are ignored.
        assertEquals(AddressSpace.MMAP_TOP - PAGE, space.findFree(PAGE, 0x1000));
        assertEquals(AddressSpace.MMAP_TOP - PAGE, space.findFree(PAGE, AddressSpace.USER_VA_END));
        assertEquals(AddressSpace.MMAP_TOP - 2 * PAGE, space.findFree(2 * PAGE, AddressSpace.USER_VA_END - PAGE));
        // A hint above MMAP_TOP but inside user memory is honoured.
        assertEquals(AddressSpace.MMAP_TOP + 16 * PAGE, space.findFree(PAGE, AddressSpace.MMAP_TOP + 16 * PAGE));
    }

    @Test
    void findFreeIgnoresMappingsAboveMmapTop() {
        long stackLow = 0x0000_7fff_ff00_0000L;
        assertTrue(space.map(stackLow, PAGE, RW, "[stack]"));
        assertEquals(AddressSpace.MMAP_TOP - PAGE, space.findFree(PAGE, 0));
    }

    @Test
    void findFreeReportsExhaustion() {
        long all = AddressSpace.MMAP_TOP - AddressSpace.MIN_USER_VA;
        assertEquals(AddressSpace.MIN_USER_VA, space.findFree(all, 0));
        assertEquals(-1, space.findFree(all + PAGE, 0));
        assertTrue(space.map(AddressSpace.MIN_USER_VA, all, 0, "everything"));
        assertEquals(-1, space.findFree(PAGE, 0));
    }

    // ---- access ----

    @Test
    void readAndWriteAcrossPageBoundaries() throws MemoryFault {
        assertTrue(space.map(A, 3 * PAGE, RW, "a"));
        byte[] data = new byte[(int) PAGE + 200];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 31 + 7);
        long at = A + PAGE - 100; // spans all three pages
        space.copyOutBytes(at, data);
        assertArrayEquals(data, space.copyInBytes(at, data.length));
        assertArrayEquals(Arrays.copyOfRange(data, 100, 300), space.copyInBytes(A + PAGE, 200));

        space.copyOutLong(A + PAGE - 4, 0x0102030405060708L);
        assertEquals(0x0102030405060708L, space.copyInLong(A + PAGE - 4));
        assertEquals(0x05060708, space.copyInInt(A + PAGE - 4));
        space.copyOutInt(A + 2 * PAGE - 2, 0xCAFEBABE);
        assertEquals(0xCAFEBABE, space.copyInInt(A + 2 * PAGE - 2));

        byte[] s = ascii("crosses\0");
        space.copyOutBytes(A + 2 * PAGE - 3, s);
        assertEquals("crosses", space.copyInString(A + 2 * PAGE - 3, 100));

        // The segment variants, with offsets.
        byte[] src = ascii("..payload..");
        space.copyOut(A + PAGE - 3, MemorySegment.ofArray(src), 2, 7);
        byte[] dst = new byte[10];
        space.copyIn(A + PAGE - 3, MemorySegment.ofArray(dst), 1, 7);
        assertEquals("payload", new String(dst, 1, 7, StandardCharsets.US_ASCII));
    }

    @Test
    void separateMappingsAreSeparateMemory() throws MemoryFault {
        assertTrue(space.map(A, PAGE, RW, "a"));
        assertTrue(space.map(A + PAGE, PAGE, RW, "b"));
        space.copyOutBytes(A + PAGE - 2, ascii("abcd"));
        assertEquals("ab", new String(space.copyInBytes(A + PAGE - 2, 2), StandardCharsets.US_ASCII));
        assertEquals("cd", new String(space.copyInBytes(A + PAGE, 2), StandardCharsets.US_ASCII));
        assertNotEquals(tables.translate(A, false), tables.translate(A + PAGE, false));
    }

    @Test
    void copyInStringStopsAtItsLimit() throws MemoryFault {
        assertTrue(space.map(A, PAGE, RW, "a"));
        space.copyOutBytes(A, ascii("0123456789\0"));
        assertEquals("0123456789", space.copyInString(A, 11));
        assertThrows(MemoryFault.class, () -> space.copyInString(A, 10));
        assertEquals("", space.copyInString(A + 10, 1));
        // A string running off the end of the mapping faults.
        byte[] fill = new byte[16];
        Arrays.fill(fill, (byte) 'z');
        space.copyOutBytes(A + PAGE - 16, fill);
        assertThrows(MemoryFault.class, () -> space.copyInString(A + PAGE - 16, 4096));
        // Long strings grow the buffer.
        byte[] longer = new byte[1001];
        Arrays.fill(longer, 0, 1000, (byte) 'q');
        space.copyOutBytes(A + 100, longer);
        assertEquals("q".repeat(1000), space.copyInString(A + 100, 4096));
    }

    @Test
    void unmappedAddressesFault() {
        assertTrue(space.map(A, PAGE, RW, "a"));
        MemoryFault f = assertThrows(MemoryFault.class, () -> space.copyInBytes(A + PAGE, 1));
        assertEquals(A + PAGE, f.address());
        assertThrows(MemoryFault.class, () -> space.copyInLong(A - 8));
        assertThrows(MemoryFault.class, () -> space.copyInBytes(0, 1));
        assertThrows(MemoryFault.class, () -> space.copyInBytes(0x8000, 1), "below mmap_min_addr");
        // Spilling over the end of a mapping.
        assertThrows(MemoryFault.class, () -> space.copyInBytes(A + PAGE - 4, 8));
        assertThrows(MemoryFault.class, () -> space.copyInLong(A + PAGE - 4));
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(A + PAGE - 4, new byte[8]));
        assertThrows(MemoryFault.class, () -> space.zeroOut(A + PAGE - 4, 8));
    }

    @Test
    void kernelWindowAndNonCanonicalAddressesFault() throws MemoryFault {
        // A page the guest's page tables map for user mode in the upper half (like the syscall entry
        // under PVM) is still never a valid argument.
        long kernelVa = 0xFFFF_FFFF_8000_0000L;
        long frame = frames.allocate();
        tables.map(kernelVa, frame, X86.PTE_USER | X86.PTE_WRITABLE);
        assertEquals(frame, tables.translate(kernelVa, true));
        assertThrows(MemoryFault.class, () -> space.copyInBytes(kernelVa, 1));
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(kernelVa, new byte[1]));
        assertThrows(MemoryFault.class, () -> space.copyInString(kernelVa, 10));

        // Top of the lower half: the guard page and the first non-canonical address.
        assertThrows(MemoryFault.class, () -> space.copyInBytes(AddressSpace.USER_VA_END, 1));
        assertThrows(MemoryFault.class, () -> space.copyInBytes(0x0000_8000_0000_0000L, 1));
        assertThrows(MemoryFault.class, () -> space.copyInBytes(0x0001_0000_1000_0000L, 1), "aliases A's indexes");
        assertThrows(MemoryFault.class, () -> space.copyInLong(-8));

        // Even with A mapped, its non-canonical alias faults, and a wrap-around range faults.
        assertTrue(space.map(A, PAGE, RW, "a"));
        assertThrows(MemoryFault.class, () -> space.copyInBytes(0x0001_0000_0000_0000L | A, 1));
        assertThrows(MemoryFault.class, () -> space.copyIn(Long.MAX_VALUE - 2, MemorySegment.ofArray(new byte[8]), 0, 8));
        assertThrows(MemoryFault.class, () -> space.copyIn(A, MemorySegment.ofArray(new byte[8]), 0, -1));

        // The host-side poke refuses non-canonical and unowned addresses too.
        assertThrows(MemoryFault.class, () -> space.poke(0x0000_8000_0000_0000L, MemorySegment.ofArray(new byte[1]), 0, 1));
        assertThrows(MemoryFault.class, () -> space.poke(kernelVa, MemorySegment.ofArray(new byte[1]), 0, 1));
    }

    @Test
    void writesToReadOnlyPagesFault() throws MemoryFault {
        assertTrue(space.map(A, PAGE, PROT_READ, "ro"));
        assertTrue(space.map(A + PAGE, PAGE, PROT_READ | PROT_EXEC, "rx"));
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(A, new byte[1]));
        assertThrows(MemoryFault.class, () -> space.copyOutLong(A + PAGE, 1));
        assertThrows(MemoryFault.class, () -> space.zeroOut(A, 8));
        assertArrayEquals(new byte[4], space.copyInBytes(A, 4));

        // The loader may still fill read-only pages.
        space.poke(A + PAGE + 10, MemorySegment.ofArray(ascii("text")), 0, 4);
        assertEquals("text", new String(space.copyInBytes(A + PAGE + 10, 4), StandardCharsets.US_ASCII));
    }

    @Test
    void aFaultingWriteLeavesMemoryUntouched() throws MemoryFault {
        assertTrue(space.map(A, PAGE, RW, "rw"));
        assertTrue(space.map(A + PAGE, PAGE, PROT_READ, "ro"));
        byte[] ones = new byte[64];
        Arrays.fill(ones, (byte) 1);
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(A + PAGE - 32, ones));
        assertArrayEquals(new byte[32], space.copyInBytes(A + PAGE - 32, 32), "the writable half was not written");

        // Same when the range runs into a hole.
        assertTrue(space.map(A + 3 * PAGE, PAGE, RW, "before hole"));
        byte[] sevens = new byte[(int) PAGE];
        Arrays.fill(sevens, (byte) 7);
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(A + 4 * PAGE - 8, sevens));
        assertArrayEquals(new byte[8], space.copyInBytes(A + 4 * PAGE - 8, 8));
    }

    @Test
    void protNoneThenReadWriteBecomesAccessible() throws MemoryFault {
        assertTrue(space.map(A, 2 * PAGE, 0, "reserve"));
        assertThrows(MemoryFault.class, () -> space.copyInBytes(A, 1));
        assertTrue(space.protect(A, A + 2 * PAGE, RW));
        assertArrayEquals(new byte[(int) (2 * PAGE)], space.copyInBytes(A, (int) (2 * PAGE)));
        space.copyOutBytes(A + PAGE - 1, ascii("ok"));
        assertEquals("ok", new String(space.copyInBytes(A + PAGE - 1, 2), StandardCharsets.US_ASCII));
        assertEquals(2 * PAGE, space.committedBytes());
    }

    @Test
    void mprotectKeepsContents() throws MemoryFault {
        assertTrue(space.map(A, PAGE, RW, "a"));
        space.copyOutBytes(A, ascii("kept"));
        assertTrue(space.protect(A, A + PAGE, 0));
        assertThrows(MemoryFault.class, () -> space.copyInBytes(A, 4));
        assertEquals(0, space.committedBytes());
        assertTrue(space.protect(A, A + PAGE, PROT_READ));
        assertEquals("kept", new String(space.copyInBytes(A, 4), StandardCharsets.US_ASCII));
        assertThrows(MemoryFault.class, () -> space.copyOutBytes(A, ascii("x")));
        assertTrue(space.protect(A, A + PAGE, RW));
        space.copyOutBytes(A, ascii("K"));
        assertEquals("Kept", new String(space.copyInBytes(A, 4), StandardCharsets.US_ASCII));
    }

    @Test
    void unmappedThenRemappedPageReadsZero() throws MemoryFault {
        assertTrue(space.map(A, 2 * PAGE, RW, "a"));
        byte[] secret = ascii("secret data");
        space.copyOutBytes(A + 100, secret);
        space.copyOutBytes(A + PAGE + 100, secret);
        space.unmap(A, A + 2 * PAGE);
        assertThrows(MemoryFault.class, () -> space.copyInBytes(A + 100, 1));
        long framesBefore = frames.remaining();

        assertTrue(space.map(A, 2 * PAGE, PROT_READ, "again"));
        assertArrayEquals(new byte[secret.length], space.copyInBytes(A + 100, secret.length));
        assertArrayEquals(new byte[secret.length], space.copyInBytes(A + PAGE + 100, secret.length));
        assertEquals(framesBefore, frames.remaining(), "a virtual page keeps its frame");
    }

    @Test
    void zeroClearsProgramMemory() throws MemoryFault {
        assertTrue(space.map(A, 2 * PAGE, RW, "a"));
        byte[] ones = new byte[(int) (2 * PAGE)];
        Arrays.fill(ones, (byte) 0x55);
        space.copyOutBytes(A, ones);
        space.zeroOut(A + PAGE - 10, 20);
        byte[] back = space.copyInBytes(A + PAGE - 12, 24);
        assertEquals(0x55, back[0]);
        assertEquals(0x55, back[1]);
        for (int i = 2; i < 22; i++) assertEquals(0, back[i]);
        assertEquals(0x55, back[22]);
    }

    @Test
    void aMappingThatNeedsMorePageTablesThanAreLeftFailsAndChangesNothing() throws MemoryFault {
        // Pages either side of a 512 GiB line, in an empty space, need a frame each and six table pages.
        long line = 1L << 39;
        while (frames.remaining() > 8) frames.allocate();
        assertFalse(space.map(line - PAGE, 3 * PAGE, RW, "straddles"), "nine frames needed, eight left: refused");
        assertTrue(space.mappings().isEmpty());
        assertEquals(0, space.committedBytes());
        assertEquals(8, frames.remaining(), "nothing was taken");

        assertTrue(space.map(line - PAGE, 2 * PAGE, RW, "straddles"), "eight needed: fits exactly");
        space.copyOutBytes(line - 4, ascii("edge"));
        assertEquals("edge", new String(space.copyInBytes(line - 4, 4), StandardCharsets.US_ASCII));
        assertEquals(0, frames.remaining());
    }

    @Test
    void copySkipsSourcePagesThatNeverHadAFrame() throws MemoryFault {
        assertTrue(space.map(A, 2 * PAGE, 0, "reserved"));
        assertTrue(space.protect(A, A + PAGE, RW));
        space.copyOutBytes(A, ascii("kept"));
        assertTrue(space.protect(A, A + PAGE, 0));
        assertTrue(space.map(A + 10 * PAGE, 2 * PAGE, RW, "to"));
        space.copy(A, A + 10 * PAGE, 2 * PAGE);
        assertEquals("kept", new String(space.copyInBytes(A + 10 * PAGE, 4), StandardCharsets.US_ASCII));
        assertArrayEquals(new byte[(int) PAGE], space.copyInBytes(A + 11 * PAGE, (int) PAGE));
    }

    @Test
    void copyMovesBytesBetweenMappings() throws MemoryFault {
        assertTrue(space.map(A, 2 * PAGE, RW, "from"));
        assertTrue(space.map(A + 10 * PAGE, 2 * PAGE, RW, "to"));
        byte[] data = new byte[(int) (2 * PAGE)];
        for (int i = 0; i < data.length; i++) data[i] = (byte) i;
        space.copyOutBytes(A, data);
        space.copy(A, A + 10 * PAGE, 2 * PAGE);
        assertArrayEquals(data, space.copyInBytes(A + 10 * PAGE, data.length));
        assertThrows(MemoryFault.class, () -> space.copy(A, A + 20 * PAGE, PAGE));
    }

    @Test
    void reservationOverAnOldMappingShowsZerosWhenMadeAccessible() throws MemoryFault {
        assertTrue(space.map(A, PAGE, RW, "first"));
        space.copyOutBytes(A, "secret".getBytes());
        space.unmap(A, A + PAGE);
        assertTrue(space.map(A, PAGE, 0, "reserved"));
        assertTrue(space.protect(A, A + PAGE, RW));
        assertArrayEquals(new byte[6], space.copyInBytes(A, 6));
    }

    @Test
    void hugeReservationsAreCheapToMapAndUnmap() {
        long huge = 64L << 40; // 64 TiB of PROT_NONE, as some runtimes reserve
        long start = space.findFree(huge, 0);
        assertTrue(space.map(start, huge, 0, "reservation"));
        space.unmap(start, start + huge);
        assertTrue(space.isFree(start, start + huge));
    }

    // ---- snapshots ----

    @Test
    void theAddressSpaceLoadsAsSavedAndRefusesAnotherLayout() throws Exception {
        assertTrue(space.map(A, 2 * PAGE, RW, "data"));
        assertTrue(space.map(A + 4 * PAGE, PAGE, PROT_NONE, "reserved"));
        space.copyOutBytes(A, ascii("kept"));
        java.io.ByteArrayOutputStream saved = new java.io.ByteArrayOutputStream();
        space.save(new java.io.DataOutputStream(saved));

        PhysicalPages again = new PhysicalPages(memory, 1L << 20, MEMORY);
        AddressSpace loaded = AddressSpace.load(new java.io.DataInputStream(new java.io.ByteArrayInputStream(saved.toByteArray())),
                memory, again, LIMIT_PAGES * PAGE);
        assertEquals(space.pageTableRoot(), loaded.pageTableRoot());
        assertEquals(frames.nextFree(), again.nextFree(), "the frames in use stay in use");
        assertEquals(space.committedBytes(), loaded.committedBytes());
        assertEquals(space.mappings().size(), loaded.mappings().size());
        assertEquals("kept", new String(loaded.copyInBytes(A, 4), StandardCharsets.US_ASCII), "same memory, same tables");

        byte[] bytes = saved.toByteArray();
        bytes[2 + "address space".length() + 3] = (byte) (AddressSpace.STATE_VERSION + 1);
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> AddressSpace.load(
                new java.io.DataInputStream(new java.io.ByteArrayInputStream(bytes)), memory,
                new PhysicalPages(memory, 1L << 20, MEMORY), LIMIT_PAGES * PAGE));
        assertTrue(e.getMessage().contains("address space state has layout version"), e.getMessage());
    }

    // ---- shared pages (a runtime layer's files) ----

    /** Four shared pages holding "page 0".."page 3", at SharedMemory.GPA; ensureBacked records what it was asked. */
    private static final class FakeShared implements SharedMemory {
        final MemorySegment pages = java.lang.foreign.Arena.ofAuto().allocate(4 * PAGE, PAGE);
        final List<long[]> backed = new ArrayList<>();

        FakeShared() {
            for (int i = 0; i < 4; i++) pages.asSlice(i * PAGE).copyFrom(MemorySegment.ofArray(ascii("page " + i)));
        }

        @Override
        public MemorySegment segment() {
            return pages;
        }

        @Override
        public void ensureBacked(long gpa, long length) {
            backed.add(new long[] {gpa, length});
        }
    }

    private AddressSpace sharing(FakeShared shared) {
        return new AddressSpace(memory, tables, frames, LIMIT_PAGES * PAGE, shared);
    }

    @Test
    void sharedPagesAreReadWithoutCopyOrChargeAndPastTheFileNothingBacksThem() throws MemoryFault {
        FakeShared shared = new FakeShared();
        AddressSpace s = sharing(shared);
        long before = frames.nextFree();
        // Three pages of the file from its second page on, then two pages past its end (a reserving mapping).
        assertTrue(s.mapShared(A, 5 * PAGE, PROT_READ, "lib", SharedMemory.GPA + PAGE, 3));
        assertEquals(0, s.committedBytes(), "shared pages count against nothing");
        assertTrue(frames.nextFree() - before <= 3 * PAGE, "no frame but page tables");
        assertEquals("page 1", new String(s.copyInBytes(A, 6), StandardCharsets.US_ASCII));
        assertEquals("page 3", s.copyInString(A + 2 * PAGE, 16));
        assertEquals(ascii("page 2")[0], (byte) s.copyInLong(A + PAGE));
        assertThrows(MemoryFault.class, () -> s.copyInBytes(A + 3 * PAGE, 1), "past the file: nothing backs it");
        assertThrows(MemoryFault.class, () -> s.copyOutBytes(A, ascii("x")), "read-only for the program");
        assertThrows(MemoryFault.class, () -> s.poke(A, MemorySegment.ofArray(ascii("x")), 0, 1), "and for the host");
        assertTrue(s.mappingAt(A).shared());
        assertFalse(s.takeTlbFlushRequest(), "nothing was replaced");
    }

    @Test
    void aSharedMappingMadeWritableBecomesAChargedPrivateCopy() throws MemoryFault {
        FakeShared shared = new FakeShared();
        AddressSpace s = sharing(shared);
        assertTrue(s.mapShared(A, 3 * PAGE, PROT_READ, "lib", SharedMemory.GPA, 2));
        assertTrue(s.protect(A + PAGE, A + 3 * PAGE, RW), "copy-on-write, done at once");
        assertEquals(2 * PAGE, s.committedBytes());
        assertTrue(s.mappingAt(A).shared());
        assertFalse(s.mappingAt(A + PAGE).shared());
        s.copyOutBytes(A + PAGE, ascii("mine"));
        assertEquals("mine 1", new String(s.copyInBytes(A + PAGE, 6), StandardCharsets.US_ASCII));
        assertEquals("page 1", new String(shared.pages.asSlice(PAGE, 6).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                StandardCharsets.US_ASCII), "the shared page is untouched");
        assertArrayEquals(new byte[4], s.copyInBytes(A + 2 * PAGE, 4), "past the file: zeros in the copy");
        assertTrue(s.protect(A, A + PAGE, PROT_NONE));
        assertThrows(MemoryFault.class, () -> s.copyInBytes(A, 1));
        assertTrue(s.protect(A, A + PAGE, PROT_READ | PROT_EXEC));
        assertEquals("page 0", new String(s.copyInBytes(A, 6), StandardCharsets.US_ASCII), "still the shared page");
        assertEquals(2 * PAGE, s.committedBytes());
        assertTrue(s.unmap(A, A + 3 * PAGE));
        assertEquals(0, s.committedBytes());
    }

    @Test
    void aPageThatOwnsAFrameIsNeverSharedAndAReplacedCachedPageAsksForAFlush() throws MemoryFault {
        FakeShared shared = new FakeShared();
        AddressSpace s = sharing(shared);
        assertTrue(s.map(A, PAGE, RW, "anon"));
        assertTrue(s.unmap(A, A + PAGE));
        assertFalse(s.mapShared(A, PAGE, PROT_READ, "lib", SharedMemory.GPA, 1), "the page keeps its frame: copy into it");
        assertFalse(new AddressSpace(memory, tables, frames, LIMIT_PAGES * PAGE)
                .mapShared(A + PAGE, PAGE, PROT_READ, "lib", SharedMemory.GPA, 1), "no shared pages here");

        long b = A + 8 * PAGE;
        assertTrue(s.mapShared(b, PAGE, PROT_READ, "lib", SharedMemory.GPA, 1));
        assertTrue(s.unmap(b, b + PAGE));
        assertFalse(s.takeTlbFlushRequest(), "never used: nothing cached");
        assertTrue(s.mapShared(b, PAGE, PROT_READ, "lib", SharedMemory.GPA, 1));
        tables.setEntry(b, tables.entry(b) | X86.PTE_ACCESSED); // the vCPU walked it
        assertTrue(s.map(b + PAGE, PAGE, RW, "x"));
        assertTrue(s.unmap(b, b + PAGE));
        assertFalse(s.takeTlbFlushRequest(), "unmapped: the program may at most still read the old shared page");
        assertTrue(s.map(b, PAGE, RW, "anon"));
        assertTrue(s.takeTlbFlushRequest(), "mapped again: the cached translation to the shared page must go");
        assertFalse(s.takeTlbFlushRequest());
        assertArrayEquals(new byte[4], s.copyInBytes(b, 4));

        long c = A + 16 * PAGE; // a shared page read, then made the program's own copy
        assertTrue(s.mapShared(c, PAGE, PROT_READ, "lib", SharedMemory.GPA, 1));
        tables.setEntry(c, tables.entry(c) | X86.PTE_ACCESSED);
        assertTrue(s.protect(c, c + PAGE, RW));
        assertTrue(s.takeTlbFlushRequest());
        assertThrows(IllegalArgumentException.class, () -> s.mapShared(b, PAGE, RW, "lib", SharedMemory.GPA, 1));
        assertThrows(IllegalArgumentException.class, () -> s.mapShared(b, PAGE, PROT_READ, "lib", SharedMemory.GPA + 4 * PAGE, 1));
    }

    @Test
    void sharedMappingsSplitSaveAndLoad() throws Exception {
        FakeShared shared = new FakeShared();
        AddressSpace s = sharing(shared);
        assertTrue(s.mapShared(A, 4 * PAGE, PROT_READ, "lib", SharedMemory.GPA, 3));
        assertTrue(s.unmap(A + PAGE, A + 2 * PAGE)); // splits: [A] and [A+2P, A+4P) showing pages 2 and a hole
        assertEquals("page 2", new String(s.copyInBytes(A + 2 * PAGE, 6), StandardCharsets.US_ASCII));
        java.io.ByteArrayOutputStream saved = new java.io.ByteArrayOutputStream();
        s.save(new java.io.DataOutputStream(saved));
        FakeShared again = new FakeShared();
        AddressSpace loaded = AddressSpace.load(new java.io.DataInputStream(new java.io.ByteArrayInputStream(saved.toByteArray())),
                memory, new PhysicalPages(memory, 1L << 20, MEMORY), LIMIT_PAGES * PAGE, again);
        assertEquals("page 2", new String(loaded.copyInBytes(A + 2 * PAGE, 6), StandardCharsets.US_ASCII));
        assertEquals(0, loaded.committedBytes());
        assertEquals(2, again.backed.size(), "each shared mapping's pages are made sure of before the VM runs");
        assertEquals(SharedMemory.GPA + 2 * PAGE, again.backed.get(1)[0]);
        assertEquals(PAGE, again.backed.get(1)[1]);
        java.io.IOException e = assertThrows(java.io.IOException.class, () -> AddressSpace.load(
                new java.io.DataInputStream(new java.io.ByteArrayInputStream(saved.toByteArray())), memory,
                new PhysicalPages(memory, 1L << 20, MEMORY), LIMIT_PAGES * PAGE));
        assertTrue(e.getMessage().contains("this VM has no shared pages"), e.getMessage());
    }
}
