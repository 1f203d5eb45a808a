package dev.flicker.kvm.x86;

import dev.flicker.kvm.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.LongSupplier;

import static dev.flicker.kvm.x86.X86.PAGE_SIZE;
import static dev.flicker.kvm.x86.X86.PTE_ADDRESS_MASK;
import static dev.flicker.kvm.x86.X86.PTE_HUGE;
import static dev.flicker.kvm.x86.X86.PTE_PRESENT;
import static dev.flicker.kvm.x86.X86.PTE_USER;
import static dev.flicker.kvm.x86.X86.PTE_WRITABLE;

/**
 * 4-level x86-64 page tables (SDM vol. 3, section 4.5) kept in guest memory and edited by the VMM.
 * Table pages come from {@code allocateTable}, which returns the guest-physical address of a zeroed page.
 * Only 4 KiB leaf pages are created; lookups also understand 2 MiB and 1 GiB leaves.
 */
public final class PageTables {
    private final GuestMemory memory;
    private final MemorySegment bytes;
    private final long memoryBase;
    private final long root;
    private final LongSupplier allocateTable;

    public PageTables(GuestMemory memory, long rootGpa, LongSupplier allocateTable) {
        this.memory = memory;
        this.bytes = memory.segment();
        this.memoryBase = memory.base().value();
        this.root = rootGpa;
        this.allocateTable = allocateTable;
    }

    /** The guest-physical address of the PML4, for CR3. */
    public long root() {
        return root;
    }

    private static int index(long va, int level) {
        return (int) ((va >>> (12 + 9 * level)) & 0x1FF);
    }

    private long readEntry(long gpa) {
        return bytes.get(ValueLayout.JAVA_LONG, gpa - memoryBase);
    }

    private void writeEntry(long gpa, long value) {
        bytes.set(ValueLayout.JAVA_LONG, gpa - memoryBase, value);
    }

    /**
     * The guest-physical address of the leaf entry for {@code va}, creating intermediate tables when
     * {@code create}; -1 when absent (or when a huge page covers it).
     */
    public long leafEntryAddress(long va, boolean create) {
        long table = root;
        for (int level = 3; level >= 1; level--) {
            long entryGpa = table + index(va, level) * 8L;
            long entry = readEntry(entryGpa);
            if ((entry & PTE_PRESENT) == 0) {
                if (!create) return -1;
                long fresh = allocateTable.getAsLong();
                // Intermediate levels allow everything; the leaf decides.
                entry = fresh | PTE_PRESENT | PTE_WRITABLE | PTE_USER;
                writeEntry(entryGpa, entry);
            } else if ((entry & PTE_HUGE) != 0) {
                return -1;
            }
            table = entry & PTE_ADDRESS_MASK;
            if (!memory.contains(table, PAGE_SIZE)) return -1;
        }
        return table + index(va, 0) * 8L;
    }

    /**
     * {@code va} itself when a leaf table covering it exists, otherwise the first address past the span of
     * the missing table (2 MiB, 1 GiB or 512 GiB), so that walks over huge sparse ranges skip empty space.
     */
    public long skipAbsent(long va) {
        long table = root;
        for (int level = 3; level >= 1; level--) {
            long entry = readEntry(table + index(va, level) * 8L);
            if ((entry & PTE_PRESENT) == 0 || (entry & PTE_HUGE) != 0) {
                long span = 1L << (12 + 9 * level);
                return (va + span) & -span;
            }
            table = entry & PTE_ADDRESS_MASK;
        }
        return va;
    }

    /** Maps the 4 KiB page at {@code va} to {@code gpa} with {@code flags} (present is added). */
    public void map(long va, long gpa, long flags) {
        writeEntry(leafEntryAddress(va, true), (gpa & PTE_ADDRESS_MASK) | flags | PTE_PRESENT);
    }

    /** Writes a raw leaf entry (which may be non-present), creating tables on the way. */
    public void setEntry(long va, long entry) {
        writeEntry(leafEntryAddress(va, true), entry);
    }

    /** The raw leaf entry for {@code va}, or 0 when there is none. */
    public long entry(long va) {
        long at = leafEntryAddress(va, false);
        return at < 0 ? 0 : readEntry(at);
    }

    /**
     * Translates {@code va} the way the CPU would for an access by user code: returns the guest-physical
     * address, or -1 when the page is absent, not user-accessible, or (for a write) read-only.
     */
    public long translate(long va, boolean write) {
        if (!X86.isCanonical(va)) return -1;
        long table = root;
        for (int level = 3; level >= 0; level--) {
            long entryGpa = table + index(va, level) * 8L;
            if (!memory.contains(entryGpa, 8)) return -1;
            long entry = readEntry(entryGpa);
            if ((entry & PTE_PRESENT) == 0 || (entry & PTE_USER) == 0) return -1;
            if (write && (entry & PTE_WRITABLE) == 0) return -1;
            if (level > 0 && level < 3 && (entry & PTE_HUGE) != 0) {
                long pageMask = (1L << (12 + 9 * level)) - 1;
                return (entry & PTE_ADDRESS_MASK & ~pageMask) | (va & pageMask);
            }
            table = entry & PTE_ADDRESS_MASK;
        }
        return table | (va & (PAGE_SIZE - 1));
    }
}
