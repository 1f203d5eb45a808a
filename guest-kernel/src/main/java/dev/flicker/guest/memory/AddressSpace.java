package dev.flicker.guest.memory;

import dev.flicker.guest.StatePart;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.x86.PageTables;
import dev.flicker.kvm.x86.X86;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static dev.flicker.guest.abi.Mman.PROT_ALL;
import static dev.flicker.guest.abi.Mman.PROT_EXEC;
import static dev.flicker.guest.abi.Mman.PROT_WRITE;
import static dev.flicker.kvm.x86.X86.PAGE_SIZE;
import static dev.flicker.kvm.x86.X86.PTE_ACCESSED;
import static dev.flicker.kvm.x86.X86.PTE_ADDRESS_MASK;
import static dev.flicker.kvm.x86.X86.PTE_NO_EXECUTE;
import static dev.flicker.kvm.x86.X86.PTE_PRESENT;
import static dev.flicker.kvm.x86.X86.PTE_USER;
import static dev.flicker.kvm.x86.X86.PTE_WRITABLE;

/**
 * The program's virtual memory, kept by the host: a list of mappings (like Linux's VMAs) and the guest page
 * tables that implement them. Accessible pages are backed eagerly when mapped, so a program never takes a
 * page fault on memory it owns; {@code PROT_NONE} reservations cost nothing until made accessible.
 * Every page the program can reach counts against the memory limit (committed memory, like Linux's
 * overcommit mode 2); past it, mapping fails with ENOMEM. The exception are read-only mappings of a runtime layer's
 * files ({@link #mapShared}): their pages are the host's {@link SharedMemory}, the same for every VM, and count
 * against nothing until the program makes them writable and so gets its own copy.
 */
public final class AddressSpace {
    /** Lowest address a program may map (Linux's default {@code vm.mmap_min_addr}). */
    public static final long MIN_USER_VA = 0x10000;
    /** One past the highest user address (the top of the lower canonical half, less a guard page). */
    public static final long USER_VA_END = 0x0000_7fff_ffff_f000L;
    /** mmap without a hint searches downwards from here, below the stack. */
    public static final long MMAP_TOP = 0x0000_7f00_0000_0000L;
    /**
     * At most this many mappings, Linux's default {@code vm.max_map_count}: each is host memory, and a
     * {@code PROT_NONE} page costs the program nothing of its memory limit. Past it, a change that would add
     * mappings fails (ENOMEM), as on Linux.
     */
    public static final int MAX_MAPPINGS = 65_530;
    /** A software bit in a leaf entry: this page owns a frame, even while not present (PROT_NONE). */
    private static final long PTE_OWNS_FRAME = 1L << 9;
    /** A software bit in a leaf entry: this page is one of the shared pages, even while not present (PROT_NONE). */
    private static final long PTE_SHARED = 1L << 10;

    /**
     * A mapping: {@code [start, end)} with one protection. A shared one ({@link #mapShared}) shows
     * {@code sharedPages} shared pages from {@code sharedGpa} on, then pages past the end of its file, which nothing
     * backs (an access faults, where Linux raises SIGBUS); a private one has {@code sharedGpa} -1.
     */
    public static final class Mapping {
        final long start;
        final long end;
        final int prot;
        final String name;
        final long sharedGpa;
        final long sharedPages;

        Mapping(long start, long end, int prot, String name) {
            this(start, end, prot, name, -1, 0);
        }

        Mapping(long start, long end, int prot, String name, long sharedGpa, long sharedPages) {
            this.start = start;
            this.end = end;
            this.prot = prot;
            this.name = name;
            this.sharedGpa = sharedGpa;
            this.sharedPages = sharedPages;
        }

        /** True for a read-only mapping of shared pages, which counts against no limit. */
        public boolean shared() {
            return sharedGpa >= 0;
        }

        Mapping withProt(int newProt) {
            return new Mapping(start, end, newProt, name, sharedGpa, sharedPages);
        }

        public long start() {
            return start;
        }

        public long end() {
            return end;
        }

        public int prot() {
            return prot;
        }

        public String name() {
            return name;
        }
    }

    private final GuestMemory memory;
    private final PageTables pageTables;
    private final PhysicalPages frames;
    private final long limitPages;
    /** The pages every VM of this one's runtime layer shares, at {@link SharedMemory#GPA}; null: none. */
    private final SharedMemory shared;
    private final TreeMap<Long, Mapping> mappings = new TreeMap<>();
    private long committedPages;
    /** Set when a page-table entry the vCPU may have cached now points elsewhere: the TLB must be flushed. */
    private boolean tlbFlushNeeded;
    /**
     * Addresses whose shared page the vCPU may have cached and that now show nothing: harmless (the program can at
     * most still read public layer bytes it unmapped, as with any lazy munmap) until another page is mapped there.
     */
    private final Map<Long, Long> staleShared = new java.util.HashMap<>();

    public AddressSpace(GuestMemory memory, PageTables pageTables, PhysicalPages frames, long limitBytes) {
        this(memory, pageTables, frames, limitBytes, null);
    }

    /** An address space that can also map {@code shared} pages read-only ({@link #mapShared}). */
    public AddressSpace(GuestMemory memory, PageTables pageTables, PhysicalPages frames, long limitBytes,
                        SharedMemory shared) {
        this.memory = memory;
        this.pageTables = pageTables;
        this.frames = frames;
        this.limitPages = limitBytes / PAGE_SIZE;
        this.shared = shared;
    }

    /**
     * True once (then false until it is needed again) when a page-table entry that the vCPU may have cached (its
     * accessed bit was set, which the CPU, or KVM's shadow paging, does before it caches a translation) pointed to a
     * shared page and no longer does: replaced by the program's own copy, or removed. Before the program runs again
     * the VM must make the vCPU forget its translations into the shared pages ({@code Vm.forgetReadOnlyTranslations}),
     * or it could go on reading the old page where it now has another. (A page that owns a frame keeps it for the
     * VM's life, so that change never needs this: see {@link #retirePages}.)
     */
    public boolean takeTlbFlushRequest() {
        boolean needed = tlbFlushNeeded;
        tlbFlushNeeded = false;
        if (needed) staleShared.clear(); // every cached translation into the shared pages is forgotten
        return needed;
    }

    /**
     * Page {@code target} is being mapped at {@code va}: if the vCPU may still reach another, old shared page there,
     * it must forget it. (The same shared page mapped there again, as {@code ld.so} maps its cache twice, needs
     * nothing.)
     */
    private void noteNewPage(long va, long target) {
        if (staleShared.isEmpty()) return;
        Long old = staleShared.remove(va);
        if (old != null && old != target) tlbFlushNeeded = true;
    }

    public static long pageDown(long va) {
        return va & -PAGE_SIZE;
    }

    public static long pageUp(long va) {
        return (va + PAGE_SIZE - 1) & -PAGE_SIZE;
    }

    public long committedBytes() {
        return committedPages * PAGE_SIZE;
    }

    public long limitBytes() {
        return limitPages * PAGE_SIZE;
    }

    public List<Mapping> mappings() {
        return List.copyOf(mappings.values());
    }

    private static long leafFlags(int prot) {
        if (prot == 0) return PTE_OWNS_FRAME; // reserved, not present
        long flags = PTE_PRESENT | PTE_USER | PTE_OWNS_FRAME;
        if ((prot & PROT_WRITE) != 0) flags |= PTE_WRITABLE;
        if ((prot & PROT_EXEC) == 0) flags |= PTE_NO_EXECUTE;
        return flags;
    }

    /** True when {@code [start, end)} overlaps no mapping. */
    public boolean isFree(long start, long end) {
        Map.Entry<Long, Mapping> below = mappings.lowerEntry(end);
        return below == null || below.getValue().end <= start;
    }

    /** True when every page of {@code [start, end)} is mapped. */
    public boolean isFullyMapped(long start, long end) {
        long at = start;
        while (at < end) {
            Map.Entry<Long, Mapping> e = mappings.floorEntry(at);
            if (e == null || e.getValue().end <= at) return false;
            at = e.getValue().end;
        }
        return true;
    }

    /**
     * Finds a free range of {@code length} bytes, at {@code hint} if it is free, otherwise the highest one
     * below {@link #MMAP_TOP}; -1 if none.
     */
    public long findFree(long length, long hint) {
        if (hint >= MIN_USER_VA && hint + length <= USER_VA_END && hint + length > hint && isFree(hint, hint + length)) {
            return hint;
        }
        long top = MMAP_TOP;
        for (Mapping m : mappings.headMap(MMAP_TOP, false).descendingMap().values()) {
            if (m.end <= top && top - m.end >= length) return top - length;
            top = Math.min(top, m.start);
        }
        return top - length >= MIN_USER_VA ? top - length : -1;
    }

    /**
     * Maps {@code [start, start+length)} (page-aligned, free) with {@code prot}, backing accessible pages with
     * zeroed frames. Returns false, having changed nothing, when the memory limit would be passed.
     */
    public boolean map(long start, long length, int prot, String name) {
        long end = start + length;
        if ((start | length) % PAGE_SIZE != 0 || length <= 0 || start < MIN_USER_VA || end > USER_VA_END) {
            throw new IllegalArgumentException("bad mapping 0x" + Long.toHexString(start) + "+" + length);
        }
        long pages = length / PAGE_SIZE;
        if (mappings.size() >= MAX_MAPPINGS) return false;
        if (prot != 0 && committedPages + pages > limitPages) return false;
        if (prot != 0 && !framesAvailable(start, end)) return false;
        if (prot != 0) {
            bindFrames(start, end, prot, true);
            committedPages += pages;
        } else {
            clearRetired(start, end);
        }
        mappings.put(start, new Mapping(start, end, prot, name));
        return true;
    }

    /**
     * Maps {@code [start, start+length)} (page-aligned, free, {@code prot} without {@code PROT_WRITE}) to the shared
     * pages from {@code gpa} on: {@code filePages} of them, then pages that nothing backs (past the end of the file).
     * Nothing is charged against the limit and no frame is taken. Returns false, having changed nothing, when this
     * address space has no shared pages, when a page of the range already owns a frame (a page keeps its frame for
     * the VM's life: the caller then copies the file into it), or when a limit would be passed.
     */
    public boolean mapShared(long start, long length, int prot, String name, long gpa, long filePages) {
        long end = start + length;
        if ((start | length | gpa) % PAGE_SIZE != 0 || length <= 0 || start < MIN_USER_VA || end > USER_VA_END
                || (prot & PROT_WRITE) != 0 || filePages < 0 || filePages > length / PAGE_SIZE) {
            throw new IllegalArgumentException("bad shared mapping 0x" + Long.toHexString(start) + "+" + length);
        }
        if (shared == null) return false;
        if (gpa < SharedMemory.GPA || gpa - SharedMemory.GPA > shared.segment().byteSize() - filePages * PAGE_SIZE) {
            throw new IllegalArgumentException("shared pages 0x" + Long.toHexString(gpa) + "+" + filePages + " outside the range");
        }
        if (mappings.size() >= MAX_MAPPINGS) return false;
        for (long va = start; va < end; va += PAGE_SIZE) if ((pageTables.entry(va) & PTE_OWNS_FRAME) != 0) return false;
        if (spans(start, end, 21) + spans(start, end, 30) + spans(start, end, 39) > frames.remaining()) return false;
        for (long i = 0; i < length / PAGE_SIZE; i++) {
            replaceEntry(start + i * PAGE_SIZE, i < filePages ? (gpa + i * PAGE_SIZE) | sharedFlags(prot) : 0);
        }
        mappings.put(start, new Mapping(start, end, prot, name, gpa, filePages));
        return true;
    }

    private static long sharedFlags(int prot) {
        if (prot == 0) return PTE_SHARED; // not present; the page is found again by mprotect
        return PTE_PRESENT | PTE_USER | PTE_SHARED | ((prot & PROT_EXEC) == 0 ? PTE_NO_EXECUTE : 0);
    }

    /**
     * Writes {@code entry} for {@code va} over an entry that owns no frame. When the old entry pointed to another page
     * and the vCPU may have cached it (its accessed bit), {@code va} is stale: the vCPU may still reach the old shared
     * page there, which only matters once something else is mapped there ({@link #noteNewPage}).
     */
    private void replaceEntry(long va, long entry) {
        long old = pageTables.entry(va);
        if ((old & PTE_ACCESSED) != 0 && (old & PTE_ADDRESS_MASK) != (entry & PTE_ADDRESS_MASK)) {
            staleShared.put(va, old & PTE_ADDRESS_MASK); // the vCPU may still reach the old shared page here
        }
        if ((entry & PTE_PRESENT) != 0) noteNewPage(va, entry & PTE_ADDRESS_MASK);
        pageTables.setEntry(va, entry);
    }

    /** Removes the shared pages of {@code [start, end)} from the page tables. */
    private void clearShared(long start, long end) {
        for (long va = start; va < end; va += PAGE_SIZE) {
            long next = pageTables.skipAbsent(va);
            if (next != va) {
                va = next - PAGE_SIZE;
                continue;
            }
            if ((pageTables.entry(va) & PTE_SHARED) != 0) replaceEntry(va, 0);
        }
    }

    /**
     * Gives the shared mapping {@code m} frames of its own with its pages' bytes (zero past the end of its file), as
     * the program's private copy with {@code prot}: a private write, copy-on-write done at once. Frames were checked.
     */
    private void privatize(Mapping m, int prot) {
        for (long va = m.start; va < m.end; va += PAGE_SIZE) {
            long old = pageTables.entry(va);
            long frame = frames.allocate();
            MemorySegment page = memory.slice(frame, PAGE_SIZE);
            if ((old & PTE_SHARED) != 0) {
                MemorySegment.copy(shared.segment(), (old & PTE_ADDRESS_MASK) - SharedMemory.GPA, page, 0, PAGE_SIZE);
            } else {
                page.fill((byte) 0);
            }
            replaceEntry(va, frame | leafFlags(prot));
        }
        mappings.put(m.start, new Mapping(m.start, m.end, prot, m.name));
    }

    /** Sets the protection of the shared mapping {@code m}'s pages; the pages they show stay the same. */
    private void protectShared(Mapping m, int prot) {
        for (long i = 0; i < m.sharedPages; i++) {
            pageTables.setEntry(m.start + i * PAGE_SIZE, (m.sharedGpa + i * PAGE_SIZE) | sharedFlags(prot));
        }
        mappings.put(m.start, m.withProt(prot));
    }

    /**
     * True when binding {@code [start, end)} cannot run out of frames: one for each page that has none yet,
     * plus the page-table pages the range may need. Checked first, so that a refused change changes nothing.
     */
    private boolean framesAvailable(long start, long end) {
        long unbound = 0;
        for (long va = start; va < end; va += PAGE_SIZE) if ((pageTables.entry(va) & PTE_OWNS_FRAME) == 0) unbound++;
        // Page-table pages the range may need: a table per 2 MiB, a directory per 1 GiB and a pointer table per
        // 512 GiB it touches, counted whether they exist or not (a range crossing a 512 GiB line may need six).
        long tablePages = spans(start, end, 21) + spans(start, end, 30) + spans(start, end, 39);
        return unbound + tablePages <= frames.remaining();
    }

    /**
     * As {@link #framesAvailable}, for {@link #protect}: shared pages need a frame only when they become writable
     * (a private copy); the others keep showing the shared page.
     */
    private boolean framesAvailableForProtect(long start, long end, int prot) {
        long unbound = 0;
        for (Mapping m : mappings.subMap(mappings.floorKey(start), true, end, false).values()) {
            if (m.shared() && (prot & PROT_WRITE) == 0) continue;
            for (long va = Math.max(start, m.start); va < Math.min(end, m.end); va += PAGE_SIZE) {
                if ((pageTables.entry(va) & PTE_OWNS_FRAME) == 0) unbound++;
            }
        }
        long tablePages = spans(start, end, 21) + spans(start, end, 30) + spans(start, end, 39);
        return unbound + tablePages <= frames.remaining();
    }

    /** How many aligned blocks of {@code 1 << shift} bytes {@code [start, end)} touches. */
    private static long spans(long start, long end, int shift) {
        return ((end - 1) >>> shift) - (start >>> shift) + 1;
    }

    /**
     * Gives every page of {@code [start, end)} its frame with {@code prot}, zeroing the frame when
     * {@code zero} (a new mapping). A virtual page keeps the frame it was first given for the life of the VM
     * (see {@link #retirePages}). Callers check {@link #framesAvailable} first.
     */
    private void bindFrames(long start, long end, int prot, boolean zero) {
        for (long va = start; va < end; va += PAGE_SIZE) {
            long old = pageTables.entry(va);
            long frame;
            if ((old & PTE_OWNS_FRAME) != 0) {
                frame = old & PTE_ADDRESS_MASK;
                if (zero) memory.slice(frame, PAGE_SIZE).fill((byte) 0);
            } else {
                frame = frames.allocate();
            }
            if (prot != 0) noteNewPage(va, frame);
            pageTables.setEntry(va, frame | leafFlags(prot));
        }
    }

    /** A new PROT_NONE mapping over pages that kept frames: clear them now, so a later mprotect shows zeros. */
    private void clearRetired(long start, long end) {
        forEachBoundPage(start, end, (va, entry) -> memory.slice(entry & PTE_ADDRESS_MASK, PAGE_SIZE).fill((byte) 0));
    }

    private interface BoundPage {
        void accept(long va, long entry);
    }

    /** Calls {@code action} for each page of {@code [start, end)} that owns a frame, skipping absent tables. */
    private void forEachBoundPage(long start, long end, BoundPage action) {
        for (long va = start; va < end; va += PAGE_SIZE) {
            long next = pageTables.skipAbsent(va);
            if (next != va) {
                va = next - PAGE_SIZE;
                continue;
            }
            long entry = pageTables.entry(va);
            if ((entry & PTE_OWNS_FRAME) != 0) action.accept(va, entry);
        }
    }

    /**
     * Makes the pages of {@code [start, end)} not present, keeping each page's frame bound to its address.
     * The host edits page tables behind the guest's back: a vCPU may still hold the old translation (its TLB,
     * or KVM's shadow page tables under PVM). Keeping the binding means a stale translation can only reach
     * the program's own old page, never another page; the program's access to memory it unmapped or made
     * less accessible is therefore refused lazily, and the host never relies on it.
     */
    private void retirePages(long start, long end) {
        forEachBoundPage(start, end, (va, entry) -> pageTables.setEntry(va, (entry & PTE_ADDRESS_MASK) | PTE_OWNS_FRAME));
    }

    /** How many mappings splitting at {@code start} and {@code end} adds (each inside a mapping adds one). */
    private int splitsAt(long start, long end) {
        Mapping a = mappingAt(start), b = mappingAt(end);
        return (a != null && a.start < start ? 1 : 0) + (b != null && b.start < end ? 1 : 0);
    }

    /** Splits the mapping that straddles {@code at}, so that {@code at} starts a mapping. */
    private void splitAt(long at) {
        Map.Entry<Long, Mapping> e = mappings.lowerEntry(at);
        if (e == null) return;
        Mapping m = e.getValue();
        if (m.end <= at) return;
        if (m.shared()) {
            long left = (at - m.start) / PAGE_SIZE;
            mappings.put(m.start, new Mapping(m.start, at, m.prot, m.name, m.sharedGpa, Math.min(m.sharedPages, left)));
            mappings.put(at, new Mapping(at, m.end, m.prot, m.name, m.sharedGpa + left * PAGE_SIZE,
                    Math.max(0, m.sharedPages - left)));
            return;
        }
        mappings.put(m.start, new Mapping(m.start, at, m.prot, m.name));
        mappings.put(at, new Mapping(at, m.end, m.prot, m.name));
    }

    private static long pages(Mapping m) {
        return (m.end - m.start) / PAGE_SIZE;
    }

    /**
     * {@code munmap}: removes every mapping in {@code [start, end)}, gaps allowed. False, having changed
     * nothing, when splitting a mapping would pass {@link #MAX_MAPPINGS}.
     */
    public boolean unmap(long start, long end) {
        if (mappings.size() + splitsAt(start, end) > MAX_MAPPINGS) return false;
        splitAt(start);
        splitAt(end);
        for (long s : new ArrayList<>(mappings.subMap(start, true, end, false).keySet())) {
            Mapping m = mappings.remove(s);
            if (m.shared()) {
                clearShared(m.start, m.end);
                continue;
            }
            if (m.prot != 0) committedPages -= pages(m);
            retirePages(m.start, m.end);
        }
        return true;
    }

    /**
     * {@code mprotect}: all of {@code [start, end)} must be mapped. Pages made accessible count against the
     * limit; returns false, having changed nothing, if that would pass it or {@link #MAX_MAPPINGS}.
     */
    public boolean protect(long start, long end, int prot) {
        if (mappings.size() + splitsAt(start, end) > MAX_MAPPINGS) return false;
        long gained = 0, lost = 0;
        for (Mapping m : mappings.subMap(mappings.floorKey(start), true, end, false).values()) {
            long overlap = (Math.min(end, m.end) - Math.max(start, m.start)) / PAGE_SIZE;
            if (overlap <= 0) continue;
            if (m.shared()) {
                if ((prot & PROT_WRITE) != 0) gained += overlap; // a private copy from now on
                continue;
            }
            if (m.prot == 0 && prot != 0) gained += overlap;
            if (m.prot != 0 && prot == 0) lost += overlap;
        }
        if (committedPages + gained > limitPages) return false;
        if (prot != 0 && !framesAvailableForProtect(start, end, prot)) return false;
        splitAt(start);
        splitAt(end);
        for (Mapping m : List.copyOf(mappings.subMap(start, true, end, false).values())) {
            if (m.shared() && (prot & PROT_WRITE) != 0) {
                privatize(m, prot);
            } else if (m.shared()) {
                protectShared(m, prot);
            } else {
                if (prot != 0) bindFrames(m.start, m.end, prot, false);
                else retirePages(m.start, m.end);
                mappings.put(m.start, m.withProt(prot));
            }
        }
        committedPages += gained - lost;
        return true;
    }

    /**
     * Copies {@code length} bytes between two mapped ranges as the host (for {@code mremap} moves) into a fresh
     * destination. A source page that never had a frame (a PROT_NONE reservation never made accessible) reads as
     * zero, as the destination already does: it is skipped.
     */
    public void copy(long from, long to, long length) throws MemoryFault {
        for (long done = 0; done < length; done += PAGE_SIZE) {
            long entry = pageTables.entry(from + done);
            long src;
            if ((entry & PTE_OWNS_FRAME) != 0) src = physical(from + done, false, false);
            else if ((entry & PTE_SHARED) != 0) src = entry & PTE_ADDRESS_MASK; // a shared page: its bytes are copied
            else continue;
            long dst = physical(to + done, true, false);
            MemorySegment.copy(backing(src), offsetIn(src), memory.segment(), dst - memory.base().value(),
                    Math.min(PAGE_SIZE, length - done));
        }
    }

    /** True when {@code gpa} is one of the shared pages this address space can map. */
    private boolean isShared(long gpa) {
        return shared != null && gpa >= SharedMemory.GPA && gpa - SharedMemory.GPA < shared.segment().byteSize();
    }

    /** The host memory behind guest-physical {@code gpa}: the VM's own, or the shared pages. */
    private MemorySegment backing(long gpa) {
        return isShared(gpa) ? shared.segment() : memory.segment();
    }

    /** Where {@code gpa} lies in {@link #backing}. */
    private long offsetIn(long gpa) {
        return isShared(gpa) ? gpa - SharedMemory.GPA : gpa - memory.base().value();
    }

    /** The start of the first mapping that starts at or above {@code va}, or {@link #USER_VA_END} if there is none. */
    public long nextMappingStart(long va) {
        Long start = mappings.ceilingKey(va);
        return start == null ? USER_VA_END : start;
    }

    /** The mapping containing {@code va}, or null. */
    public Mapping mappingAt(long va) {
        Map.Entry<Long, Mapping> e = mappings.floorEntry(va);
        return e != null && e.getValue().end > va ? e.getValue() : null;
    }

    // ---- access to program memory, always through the page tables: guest to host is copy in, host to guest copy out ----

    /**
     * The guest-physical address for {@code va}. With {@code asProgram}, only what the program itself could
     * access (user, present, writable for a write) is allowed; otherwise the host writes where the loader
     * needs (for example into read-only text).
     */
    private long physical(long va, boolean write, boolean asProgram) throws MemoryFault {
        long gpa;
        if (asProgram) {
            // The kernel window is reachable from ring 3 (the syscall entry runs there under PVM), but it is
            // never a valid system call argument.
            gpa = va >= MIN_USER_VA && va < USER_VA_END ? pageTables.translate(va, write) : -1;
        } else {
            long entry = X86.isCanonical(va) ? pageTables.entry(va) : 0;
            gpa = (entry & PTE_OWNS_FRAME) == 0 ? -1 : (entry & PTE_ADDRESS_MASK) | (va & (PAGE_SIZE - 1));
        }
        // The shared pages are read-only in the host too: a write there would fault the host, so none is let through.
        if (gpa < 0 || !(memory.contains(gpa, 1) || (!write && isShared(gpa)))) throw new MemoryFault(va);
        return gpa;
    }

    private void checkRange(long va, long length) throws MemoryFault {
        if (length < 0 || va + length < va) throw new MemoryFault(va);
    }

    /** Copies {@code length} bytes of program memory at {@code va} into {@code dst} at {@code dstOffset}. */
    public void copyIn(long va, MemorySegment dst, long dstOffset, long length) throws MemoryFault {
        checkRange(va, length);
        long done = 0;
        while (done < length) {
            long at = va + done;
            long chunk = Math.min(length - done, PAGE_SIZE - (at & (PAGE_SIZE - 1)));
            long gpa = physical(at, false, true);
            MemorySegment.copy(backing(gpa), offsetIn(gpa), dst, dstOffset + done, chunk);
            done += chunk;
        }
    }

    /**
     * The program's bytes from {@code va} to the end of their page, at most {@code maxLength}, as a view of guest
     * memory: for a host call that consumes what the program wrote (a socket's bytes) without copying it into an
     * array first. Valid while the program is stopped in the host call; the caller copies what it keeps.
     */
    public MemorySegment readableSpan(long va, long maxLength) throws MemoryFault {
        checkRange(va, maxLength);
        long length = Math.min(maxLength, PAGE_SIZE - (va & (PAGE_SIZE - 1)));
        long gpa = physical(va, false, true);
        return backing(gpa).asSlice(offsetIn(gpa), length).asReadOnly();
    }

    public byte[] copyInBytes(long va, int length) throws MemoryFault {
        byte[] out = new byte[length];
        copyIn(va, MemorySegment.ofArray(out), 0, length);
        return out;
    }

    /** Copies {@code length} bytes from {@code src} into program memory at {@code va}, as the program could. */
    public void copyOut(long va, MemorySegment src, long srcOffset, long length) throws MemoryFault {
        copyOut(va, src, srcOffset, length, true);
    }

    public void copyOutBytes(long va, byte[] bytes) throws MemoryFault {
        copyOut(va, MemorySegment.ofArray(bytes), 0, bytes.length);
    }

    /** Writes regardless of the program's protection (the loader filling text and data, a file mapping's bytes). */
    public void poke(long va, MemorySegment src, long srcOffset, long length) throws MemoryFault {
        copyOut(va, src, srcOffset, length, false);
    }

    /** Reads {@code dst.byteSize()} bytes at {@code va} regardless of the program's protection (the host's own pages). */
    public void peek(long va, MemorySegment dst) throws MemoryFault {
        checkRange(va, dst.byteSize());
        long done = 0;
        while (done < dst.byteSize()) {
            long at = va + done;
            long chunk = Math.min(dst.byteSize() - done, PAGE_SIZE - (at & (PAGE_SIZE - 1)));
            MemorySegment.copy(memory.segment(), physical(at, false, false) - memory.base().value(), dst, done, chunk);
            done += chunk;
        }
    }

    private void copyOut(long va, MemorySegment src, long srcOffset, long length, boolean asProgram) throws MemoryFault {
        checkRange(va, length);
        // Check the whole range first so that a fault leaves program memory untouched.
        for (long at = pageDown(va); at < va + length; at += PAGE_SIZE) physical(Math.max(at, va), true, asProgram);
        long done = 0;
        while (done < length) {
            long at = va + done;
            long chunk = Math.min(length - done, PAGE_SIZE - (at & (PAGE_SIZE - 1)));
            long gpa = physical(at, true, asProgram);
            MemorySegment.copy(src, srcOffset + done, memory.segment(), gpa - memory.base().value(), chunk);
            done += chunk;
        }
    }

    /** Fills {@code length} bytes of program memory at {@code va} with zeros, as the program could. */
    public void zeroOut(long va, long length) throws MemoryFault {
        checkRange(va, length);
        long done = 0;
        while (done < length) {
            long at = va + done;
            long chunk = Math.min(length - done, PAGE_SIZE - (at & (PAGE_SIZE - 1)));
            long gpa = physical(at, true, true);
            memory.slice(gpa, chunk).fill((byte) 0);
            done += chunk;
        }
    }

    public long copyInLong(long va) throws MemoryFault {
        if ((va & 7) == 0 || (va & (PAGE_SIZE - 1)) <= PAGE_SIZE - 8) {
            long gpa = physical(va, false, true);
            return backing(gpa).get(ValueLayout.JAVA_LONG_UNALIGNED, offsetIn(gpa));
        }
        return MemorySegment.ofArray(copyInBytes(va, 8)).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
    }

    public int copyInInt(long va) throws MemoryFault {
        return MemorySegment.ofArray(copyInBytes(va, 4)).get(ValueLayout.JAVA_INT_UNALIGNED, 0);
    }

    public void copyOutLong(long va, long value) throws MemoryFault {
        byte[] b = new byte[8];
        MemorySegment.ofArray(b).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, value);
        copyOutBytes(va, b);
    }

    public void copyOutInt(long va, int value) throws MemoryFault {
        byte[] b = new byte[4];
        MemorySegment.ofArray(b).set(ValueLayout.JAVA_INT_UNALIGNED, 0, value);
        copyOutBytes(va, b);
    }

    /** A NUL-terminated string of at most {@code max} bytes; longer ones fault (ENAMETOOLONG is the caller's). */
    public String copyInString(long va, int max) throws MemoryFault {
        byte[] buf = new byte[Math.min(max, 256)];
        int n = 0;
        long offset = 0; // of va + n in its backing segment: translated once per page, not per byte
        MemorySegment segment = memory.segment();
        while (true) {
            if (n == max) throw new MemoryFault(va + n);
            long at = va + n;
            if (n == 0 || (at & (PAGE_SIZE - 1)) == 0) {
                long gpa = physical(at, false, true);
                segment = backing(gpa);
                offset = offsetIn(gpa);
            } else {
                offset++;
            }
            byte b = segment.get(ValueLayout.JAVA_BYTE, offset);
            if (b == 0) return new String(buf, 0, n, StandardCharsets.UTF_8);
            if (n == buf.length) buf = java.util.Arrays.copyOf(buf, Math.min(max, buf.length * 2));
            buf[n++] = b;
        }
    }

    /** The layout of what {@link #save} writes. */
    public static final int STATE_VERSION = 2;
    private static final String STATE_PART = "address space";

    /** The page tables of {@code memory} rooted at {@code root}, taking their frames from {@code frames}. */
    public static PageTables pageTables(GuestMemory memory, PhysicalPages frames, long root) {
        return new PageTables(memory, root, () -> {
            long f = frames.allocate();
            if (f < 0) throw new IllegalStateException("page-table space exhausted");
            return f;
        });
    }

    /** The root of the page tables (what CR3 holds). */
    public long pageTableRoot() {
        return pageTables.root();
    }

    /**
     * Writes this address space's part of a snapshot: the page-table root, the frames in use, the mapping list and the
     * committed count. The page tables themselves live in guest memory.
     */
    public void save(java.io.DataOutputStream out) throws java.io.IOException {
        StatePart.writeHeader(out, STATE_PART, STATE_VERSION);
        out.writeLong(pageTables.root());
        out.writeLong(frames.nextFree());
        out.writeLong(committedPages);
        out.writeInt(mappings.size());
        for (Mapping m : mappings.values()) {
            out.writeLong(m.start);
            out.writeLong(m.end);
            out.writeInt(m.prot);
            out.writeUTF(m.name);
            out.writeLong(m.sharedGpa);
            out.writeLong(m.sharedPages);
        }
    }

    /**
     * The address space {@link #save} wrote, over {@code memory} (restored from the same snapshot) with its frames in
     * {@code frames}: every value is checked, as snapshot data is untrusted.
     */
    public static AddressSpace load(java.io.DataInputStream in, GuestMemory memory, PhysicalPages frames, long limitBytes)
            throws java.io.IOException {
        return load(in, memory, frames, limitBytes, null);
    }

    /**
     * As {@link #load(java.io.DataInputStream, GuestMemory, PhysicalPages, long)}, for a VM that maps {@code shared}
     * pages: the shared mappings' pages are made sure of ({@link SharedMemory#ensureBacked}) before it runs.
     */
    public static AddressSpace load(java.io.DataInputStream in, GuestMemory memory, PhysicalPages frames, long limitBytes,
                                    SharedMemory shared) throws java.io.IOException {
        StatePart.readHeader(in, STATE_PART, STATE_VERSION);
        long root = in.readLong(), nextFree = in.readLong();
        try {
            frames.resumeAt(nextFree);
        } catch (IllegalArgumentException e) {
            throw new java.io.IOException(e.getMessage());
        }
        if (root < frames.start() || root >= nextFree || root % PAGE_SIZE != 0) throw new java.io.IOException("bad page-table root");
        AddressSpace space = new AddressSpace(memory, pageTables(memory, frames, root), frames, limitBytes, shared);
        space.loadMappings(in);
        for (Mapping m : space.mappings.values()) {
            if (m.sharedPages > 0) shared.ensureBacked(m.sharedGpa, m.sharedPages * PAGE_SIZE);
        }
        return space;
    }

    private void loadMappings(java.io.DataInputStream in) throws java.io.IOException {
        long committed = in.readLong();
        int n = in.readInt();
        if (n < 0 || n > 1_000_000) throw new java.io.IOException("bad mapping count " + n);
        long accessible = 0, previousEnd = 0;
        for (int i = 0; i < n; i++) {
            long start = in.readLong(), end = in.readLong();
            int prot = in.readInt();
            String name = in.readUTF();
            long sharedGpa = in.readLong(), sharedPages = in.readLong();
            if (start % PAGE_SIZE != 0 || end % PAGE_SIZE != 0 || start < MIN_USER_VA || end > USER_VA_END
                    || end <= start || start < previousEnd || (prot & ~PROT_ALL) != 0) {
                throw new java.io.IOException("bad mapping 0x" + Long.toHexString(start) + "-0x" + Long.toHexString(end));
            }
            boolean isSharedMapping = sharedGpa != -1;
            if (isSharedMapping ? shared == null || (prot & PROT_WRITE) != 0 || sharedGpa % PAGE_SIZE != 0
                    || sharedPages < 0 || sharedPages > (end - start) / PAGE_SIZE || sharedGpa < SharedMemory.GPA
                    || sharedGpa - SharedMemory.GPA > shared.segment().byteSize() - sharedPages * PAGE_SIZE
                    : sharedPages != 0) {
                throw new java.io.IOException("bad shared mapping 0x" + Long.toHexString(start) + " of pages at 0x"
                        + Long.toHexString(sharedGpa) + (shared == null ? ": this VM has no shared pages" : ""));
            }
            previousEnd = end;
            mappings.put(start, new Mapping(start, end, prot, name, sharedGpa, sharedPages));
            if (prot != 0 && !isSharedMapping) accessible += (end - start) / PAGE_SIZE;
        }
        if (committed != accessible || committed > limitPages) {
            throw new java.io.IOException("committed pages " + committed + " do not match the mappings (" + accessible
                    + ") or pass the limit (" + limitPages + ")");
        }
        committedPages = committed;
    }
}
