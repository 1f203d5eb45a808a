package dev.flicker.kvm.x86;

import dev.flicker.kvm.GuestAddress;
import dev.flicker.kvm.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static dev.flicker.kvm.x86.X86.PAGE_SIZE;
import static dev.flicker.kvm.x86.X86.PTE_ADDRESS_MASK;
import static dev.flicker.kvm.x86.X86.PTE_HUGE;
import static dev.flicker.kvm.x86.X86.PTE_NO_EXECUTE;
import static dev.flicker.kvm.x86.X86.PTE_PRESENT;
import static dev.flicker.kvm.x86.X86.PTE_USER;
import static dev.flicker.kvm.x86.X86.PTE_WRITABLE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Page-table editing and the software walk, on plain anonymous memory (no /dev/kvm needed). */
class PageTablesTest {
    private static final long MEMORY_BYTES = 4L << 20;
    private static final long USER_RW = PTE_USER | PTE_WRITABLE;

    private GuestMemory memory;
    private final List<Long> allocated = new ArrayList<>();
    private long nextTable;
    private PageTables tables;

    @BeforeEach
    void setUp() {
        memory = GuestMemory.anonymous(GuestAddress.of(0), MEMORY_BYTES);
        nextTable = 0x1000;
        long root = nextTable;
        nextTable += PAGE_SIZE;
        tables = new PageTables(memory, root, this::allocateTable);
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    /** Table pages from [0x2000, 1 MiB): anonymous memory is zeroed already. */
    private long allocateTable() {
        long gpa = nextTable;
        nextTable += PAGE_SIZE;
        allocated.add(gpa);
        return gpa;
    }

    private long rawEntry(long gpa) {
        return memory.segment().get(ValueLayout.JAVA_LONG, gpa);
    }

    private void writeRaw(long gpa, long value) {
        memory.segment().set(ValueLayout.JAVA_LONG, gpa, value);
    }

    @Test
    void rootIsTheGivenAddress() {
        assertEquals(0x1000, tables.root());
    }

    @Test
    void mapThenTranslateRoundTrips() {
        long va = 0x0000_0000_0040_0000L;
        long gpa = 0x0020_0000L;
        tables.map(va, gpa, USER_RW);

        assertEquals(gpa, tables.translate(va, false));
        assertEquals(gpa, tables.translate(va, true));
        assertEquals(gpa + 0x123, tables.translate(va + 0x123, false));
        assertEquals(gpa + 0xFFF, tables.translate(va + 0xFFF, true));
        // The next page is a different leaf and was never mapped.
        assertEquals(-1, tables.translate(va + PAGE_SIZE, false));
        // The raw leaf holds the frame, the flags and the present bit.
        assertEquals(gpa | USER_RW | PTE_PRESENT, tables.entry(va));
        assertEquals(tables.entry(va), tables.entry(va + 0x800));
    }

    @Test
    void mapDropsLowBitsOfTheFrameAddressAndKeepsNoExecute() {
        long va = 0x0000_7fff_ffff_e000L;
        tables.map(va, 0x0030_0ABCL, PTE_USER | PTE_NO_EXECUTE);
        assertEquals(0x0030_0000L | PTE_USER | PTE_NO_EXECUTE | PTE_PRESENT, tables.entry(va));
        assertEquals(0x0030_0010L, tables.translate(va + 0x10, false));
    }

    @Test
    void severalPagesTranslateIndependently() {
        long base = 0x0000_1234_5600_0000L;
        for (int i = 0; i < 8; i++) tables.map(base + i * PAGE_SIZE, 0x0030_0000L + (7 - i) * PAGE_SIZE, USER_RW);
        for (int i = 0; i < 8; i++) {
            assertEquals(0x0030_0000L + (7 - i) * PAGE_SIZE + 0x42, tables.translate(base + i * PAGE_SIZE + 0x42, true));
        }
    }

    @Test
    void leafIndexingMatchesTheArchitecturalLayout() {
        // va with PML4 index 1, PDPT index 2, PD index 3, PT index 4.
        long va = (1L << 39) | (2L << 30) | (3L << 21) | (4L << 12);
        tables.map(va, 0x0005_0000L, USER_RW);
        assertEquals(3, allocated.size());
        long pdpt = allocated.get(0), pd = allocated.get(1), pt = allocated.get(2);
        long expectedIntermediate = PTE_PRESENT | PTE_WRITABLE | PTE_USER;
        assertEquals(pdpt | expectedIntermediate, rawEntry(tables.root() + 1 * 8));
        assertEquals(pd | expectedIntermediate, rawEntry(pdpt + 2 * 8));
        assertEquals(pt | expectedIntermediate, rawEntry(pd + 3 * 8));
        assertEquals(0x0005_0000L | USER_RW | PTE_PRESENT, rawEntry(pt + 4 * 8));
        assertEquals(pt + 4 * 8, tables.leafEntryAddress(va, false));
    }

    @Test
    void translateRefusesNonPresentPages() {
        assertEquals(-1, tables.translate(0x0040_0000L, false));
        // A raw entry without the present bit (for example PROT_NONE) is refused too.
        tables.setEntry(0x0040_0000L, 0x0020_0000L | USER_RW);
        assertEquals(-1, tables.translate(0x0040_0000L, false));
        assertEquals(-1, tables.translate(0x0040_0000L, true));
        assertEquals(0x0020_0000L | USER_RW, tables.entry(0x0040_0000L));
    }

    @Test
    void translateRefusesSupervisorPages() {
        long va = 0x0040_0000L;
        tables.map(va, 0x0020_0000L, PTE_WRITABLE);
        assertEquals(-1, tables.translate(va, false));
        assertEquals(-1, tables.translate(va, true));
        assertTrue((tables.entry(va) & PTE_PRESENT) != 0);
    }

    @Test
    void translateRefusesWhenAnIntermediateLevelIsSupervisor() {
        long va = 0x0040_0000L;
        tables.map(va, 0x0020_0000L, USER_RW);
        long pml4e = tables.root() + ((va >>> 39) & 0x1FF) * 8;
        writeRaw(pml4e, rawEntry(pml4e) & ~PTE_USER);
        assertEquals(-1, tables.translate(va, false));
    }

    @Test
    void translateRefusesWritesToReadOnlyPages() {
        long va = 0x0040_0000L;
        tables.map(va, 0x0020_0000L, PTE_USER);
        assertEquals(0x0020_0008L, tables.translate(va + 8, false));
        assertEquals(-1, tables.translate(va + 8, true));
    }

    @Test
    void translateRefusesWritesWhenAnIntermediateLevelIsReadOnly() {
        long va = 0x0040_0000L;
        tables.map(va, 0x0020_0000L, USER_RW);
        long pml4e = tables.root() + ((va >>> 39) & 0x1FF) * 8;
        writeRaw(pml4e, rawEntry(pml4e) & ~PTE_WRITABLE);
        assertEquals(0x0020_0000L, tables.translate(va, false));
        assertEquals(-1, tables.translate(va, true));
    }

    @Test
    void translateRefusesNonCanonicalAddresses() {
        long va = 0x0040_0000L;
        tables.map(va, 0x0020_0000L, USER_RW);
        // Same table indexes as va (bits 48..63 are not used for indexing) but non-canonical.
        assertEquals(-1, tables.translate(0x0001_0000_0040_0000L, false));
        assertEquals(-1, tables.translate(0x8000_0000_0040_0000L, false));
        assertEquals(-1, tables.translate(0x0000_8000_0000_0000L, false));
        assertEquals(-1, tables.translate(0xFFFF_7FFF_FFFF_F000L, false));
        assertFalse(X86.isCanonical(0x0000_8000_0000_0000L));
        assertTrue(X86.isCanonical(0xFFFF_8000_0000_0000L));
        assertTrue(X86.isCanonical(0x0000_7FFF_FFFF_FFFFL));
    }

    @Test
    void upperHalfAddressesTranslateWhenMapped() {
        long va = 0xFFFF_FFFF_8000_0000L;
        tables.map(va, 0x0010_0000L, USER_RW);
        assertEquals(0x0010_0FF0L, tables.translate(va + 0xFF0, true));
    }

    @Test
    void translateRefusesTablesOutsideGuestMemory() {
        long va = 0x0040_0000L;
        long pml4e = tables.root() + ((va >>> 39) & 0x1FF) * 8;
        writeRaw(pml4e, 0x7000_0000L | PTE_PRESENT | PTE_USER | PTE_WRITABLE);
        assertEquals(-1, tables.translate(va, false));
        assertEquals(-1, tables.leafEntryAddress(va, false));
        assertEquals(0, tables.entry(va));
    }

    @Test
    void lookingUpAnAddressWithoutTablesAllocatesNothing() {
        assertEquals(0, tables.entry(0x0000_5555_0000_0000L));
        assertEquals(-1, tables.leafEntryAddress(0x0000_5555_0000_0000L, false));
        assertTrue(allocated.isEmpty());
    }

    @Test
    void intermediateTablesComeFromTheSupplierOnlyWhenNeeded() {
        tables.map(0x0040_0000L, 0x0020_0000L, USER_RW);
        assertEquals(3, allocated.size(), "PDPT, PD and PT for the first page");

        tables.map(0x0040_1000L, 0x0020_1000L, USER_RW);
        tables.map(0x005F_F000L, 0x0020_2000L, USER_RW);
        assertEquals(3, allocated.size(), "same 2 MiB region: same page table");

        tables.map(0x0060_0000L, 0x0020_3000L, USER_RW);
        assertEquals(4, allocated.size(), "next 2 MiB region: one new page table");

        tables.map(0x4000_0000L, 0x0020_4000L, USER_RW);
        assertEquals(6, allocated.size(), "next 1 GiB region: new PD and PT");

        tables.map(0x0000_7FFF_FFFF_F000L, 0x0020_5000L, USER_RW);
        assertEquals(9, allocated.size(), "another PML4 slot: PDPT, PD and PT");

        // Remapping an existing leaf allocates nothing.
        tables.map(0x0040_0000L, 0x0020_6000L, PTE_USER);
        assertEquals(9, allocated.size());
        assertEquals(0x0020_6000L, tables.translate(0x0040_0000L, false));

        // Every table came from the supplier and lies where it said.
        assertEquals(List.of(0x2000L, 0x3000L, 0x4000L, 0x5000L, 0x6000L, 0x7000L, 0x8000L, 0x9000L, 0xA000L), allocated);
        // The walk without create allocates nothing, even for absent addresses.
        assertEquals(-1, tables.leafEntryAddress(0x0000_6000_0000_0000L, false));
        assertEquals(9, allocated.size());
        long created = tables.leafEntryAddress(0x0000_6000_0000_0000L, true);
        assertEquals(12, allocated.size());
        assertEquals(allocated.get(11), created & ~(PAGE_SIZE - 1));
    }

    @Test
    void translatesTwoMegabyteAndOneGigabyteLeaves() {
        // 2 MiB leaf: PML4[0] -> PDPT -> PD[2] huge at 0x0040_0000 + 2 MiB offset
        long pdpt = allocateTable(), pd = allocateTable();
        long table = PTE_PRESENT | PTE_USER | PTE_WRITABLE;
        writeRaw(tables.root(), pdpt | table);
        writeRaw(pdpt, pd | table);
        writeRaw(pd + 2 * 8, 0x0020_0000L | table | PTE_HUGE);
        long va = (2L << 21) + 0x12345;
        assertEquals(0x0020_0000L + 0x12345, tables.translate(va, true));
        assertEquals(-1, tables.leafEntryAddress(va, false), "a huge page covers it");
        assertEquals(0, tables.entry(va));

        // 1 GiB leaf at PDPT[1]
        writeRaw(pdpt + 8, 0x4000_0000L | PTE_PRESENT | PTE_USER | PTE_HUGE);
        long gva = (1L << 30) + 0x0ABC_DEF0L;
        assertEquals(0x4000_0000L + 0x0ABC_DEF0L, tables.translate(gva, false));
        assertEquals(-1, tables.translate(gva, true), "read-only 1 GiB page");
    }

    @Test
    void tablesWorkWithANonZeroMemoryBase() {
        try (GuestMemory high = GuestMemory.anonymous(GuestAddress.of(0x1000_0000L), 1L << 20)) {
            long[] next = {0x1000_1000L};
            List<Long> got = new ArrayList<>();
            PageTables t = new PageTables(high, 0x1000_0000L, () -> {
                long gpa = next[0];
                next[0] += PAGE_SIZE;
                got.add(gpa);
                return gpa;
            });
            t.map(0x0040_0000L, 0x1008_0000L, USER_RW);
            assertEquals(0x1008_0042L, t.translate(0x0040_0042L, true));
            assertEquals(3, got.size());
            // The PML4 entry sits at offset 0 of the region's first page.
            assertEquals(got.getFirst() | PTE_PRESENT | PTE_WRITABLE | PTE_USER,
                    high.segment().get(ValueLayout.JAVA_LONG, 0) & (PTE_ADDRESS_MASK | 7));
        }
    }

    // ---- descriptors (SDM vol. 3, 3.4.5, 7.2.3, 6.14.1) ----

    @Test
    void codeSegmentDescriptors() {
        // limit 0xFFFFF, base 0, access 0x9B (P, DPL 0, S, code exec/read accessed), flags 0xA (G, L).
        assertEquals(0x00AF9B000000FFFFL, Descriptors.code64(0));
        // DPL 3: access 0xFB.
        assertEquals(0x00AFFB000000FFFFL, Descriptors.code64(3));
        long d = Descriptors.code64(3);
        assertEquals(3, (d >>> 45) & 3, "DPL");
        assertEquals(1, (d >>> 53) & 1, "L");
        assertEquals(0, (d >>> 54) & 1, "D must be clear when L is set");
        assertEquals(1, (d >>> 47) & 1, "present");
    }

    @Test
    void dataSegmentDescriptors() {
        // access 0x93 / 0xF3 (P, DPL, S, data read/write accessed), flags 0xC (G, D/B).
        assertEquals(0x00CF93000000FFFFL, Descriptors.data(0));
        assertEquals(0x00CFF3000000FFFFL, Descriptors.data(3));
    }

    @Test
    void tssDescriptor() {
        long base = 0xFFFF_8000_1234_5678L;
        long[] tss = Descriptors.tss64(base, 0x67);
        // limit[15:0]=0x0067, base[23:0]=0x345678, type 9 (available 64-bit TSS) with P, limit[19:16]=0, base[31:24]=0x12
        assertArrayEquals(new long[] {0x1200893456780067L, 0x00000000FFFF8000L}, tss);

        long[] big = Descriptors.tss64(0x0000_0000_ABCD_EF01L, 0x12345);
        // limit[15:0]=0x2345, base[23:0]=0xCDEF01, access 0x89, limit[19:16]=1, base[31:24]=0xAB
        assertArrayEquals(new long[] {0xAB0189CDEF012345L, 0L}, big);
    }

    @Test
    void interruptGateDescriptors() {
        long handler = 0xFFFF_FFFF_8123_4567L;
        // offset[15:0]=0x4567, selector 0x0008, IST 1, type 0xE with P and DPL 0 (0x8E), offset[31:16]=0x8123
        assertArrayEquals(new long[] {0x81238E0100084567L, 0x00000000FFFFFFFFL},
                Descriptors.interruptGate(handler, 0x08, 0, 1));
        // DPL 3 (for int3/int 0x80-style gates): 0xEE; IST 0; selector 0x10
        assertArrayEquals(new long[] {0x1234EE0000105678L, 0x0000000000000ABCL},
                Descriptors.interruptGate(0x0000_0ABC_1234_5678L, 0x10, 3, 0));
    }
}
