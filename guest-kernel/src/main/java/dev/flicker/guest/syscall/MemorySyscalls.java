package dev.flicker.guest.syscall;

import dev.flicker.guest.fs.FileDescription;
import dev.flicker.guest.kernel.KernelState;
import dev.flicker.guest.kernel.Task;
import dev.flicker.guest.memory.AddressSpace;
import dev.flicker.guest.memory.MemoryFault;

import static dev.flicker.guest.abi.Errno.*;
import static dev.flicker.guest.abi.Mman.*;
import static dev.flicker.kvm.x86.X86.PAGE_SIZE;

/**
 * Memory mappings (gVisor's {@code sys_mmap.go}, {@code sys_brk.go}): the address space keeps the mappings and the
 * page tables; these calls check their arguments against the end of user space before any arithmetic, so that no
 * value near the end of a {@code long} wraps around into range, and answer Linux's errno for each case.
 */
final class MemorySyscalls {
    private MemorySyscalls() {}

    static void register(SyscallTable.Builder.Family f) {
        f.partial(Sys.MMAP, "mmap", "a writable file mapping, or one of a bundle file, is a copy taken at mmap; MAP_SHARED with PROT_WRITE on a file is EACCES",
                (t, addr, length, prot, flags, fd, offset) -> mmap(t, addr, length, prot, flags, fd, offset));
        f.partial(Sys.MUNMAP, "munmap", "a page keeps its guest frame for the VM's lifetime",
                (t, addr, length, a2, a3, a4, a5) -> munmap(t, addr, length));
        f.partial(Sys.MPROTECT, "mprotect", "downgrades take effect lazily for the program's own accesses",
                (t, addr, length, prot, a3, a4, a5) -> mprotect(t, addr, length, prot));
        f.partial(Sys.MREMAP, "mremap", "MREMAP_FIXED and other flags are EINVAL; a move copies",
                (t, oldAddr, oldSize, newSize, flags, newAddr, a5) -> mremap(t, oldAddr, oldSize, newSize, flags, newAddr));
        f.partial(Sys.BRK, "brk", "no randomised start", (t, addr, a1, a2, a3, a4, a5) -> brk(t, addr));
        f.partial(Sys.MADVISE, "madvise", "only MADV_DONTNEED acts: it zeroes writable mappings",
                (t, addr, length, advice, a3, a4, a5) -> madvise(t, addr, length, advice));
    }

    private static long mmap(Task t, long addr, long length, long prot, long flags, long fd, long offset) throws MemoryFault {
        AddressSpace mm = t.mm();
        if (length <= 0 || (offset & (PAGE_SIZE - 1)) != 0 || offset < 0) return -EINVAL;
        if ((flags & (MAP_SHARED | MAP_PRIVATE)) == 0) return -EINVAL;
        if ((prot & ~PROT_ALL) != 0) return -EINVAL;
        if (length > AddressSpace.USER_VA_END) return -ENOMEM; // before rounding up, which could wrap
        long len = AddressSpace.pageUp(length);
        FileDescription file = null;
        if ((flags & MAP_ANONYMOUS) == 0) {
            file = t.fds().get(fd);
            if (file == null) return -EBADF;
            if (!file.mappable()) return -ENODEV;
            if ((flags & MAP_SHARED) != 0 && (prot & PROT_WRITE) != 0) return -EACCES; // files are read-only to the VM
        }
        long start;
        boolean fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0;
        if (fixed) {
            if ((addr & (PAGE_SIZE - 1)) != 0) return -EINVAL;
            if (addr < AddressSpace.MIN_USER_VA || addr > AddressSpace.USER_VA_END || len > AddressSpace.USER_VA_END - addr) {
                return (flags & MAP_FIXED_NOREPLACE) != 0 ? -EEXIST : -ENOMEM;
            }
            if ((flags & MAP_FIXED_NOREPLACE) != 0 && !mm.isFree(addr, addr + len)) return -EEXIST;
            if (!mm.unmap(addr, addr + len)) return -ENOMEM;
            start = addr;
        } else {
            start = mm.findFree(len, AddressSpace.pageDown(addr));
            if (start < 0) return -ENOMEM;
        }
        // A read-only mapping of a runtime layer's file shows the pages every VM shares: nothing is copied or charged.
        // (Where a page of the range already owns a frame, the file is copied into it instead, below.)
        if (file != null && (prot & PROT_WRITE) == 0) {
            long gpa = file.sharedGpa(offset);
            if (gpa >= 0) {
                long filePages = Math.max(0, AddressSpace.pageUp(file.inode().size()) - offset) / PAGE_SIZE;
                if (mm.mapShared(start, len, (int) prot, file.path(), gpa, Math.min(filePages, len / PAGE_SIZE))) return start;
            }
        }
        // Map writable first so the host can fill a file mapping, then set the requested protection.
        int initial = file != null && prot != PROT_NONE ? (int) prot | PROT_WRITE : (int) prot;
        if (!mm.map(start, len, initial, file == null ? "anon" : file.path())) return -ENOMEM;
        if (file != null && prot != PROT_NONE) {
            long copied = file.copyIntoMapping(mm, start, offset, len);
            if (copied < 0) {
                mm.unmap(start, start + len);
                return copied;
            }
            if (initial != prot) mm.protect(start, start + len, (int) prot);
        }
        return start;
    }

    /**
     * The end of {@code [addr, addr+length)} rounded up to a page, or -1 when the range does not lie in user space.
     * Checked before adding, so that no address or length near the end of {@code long} wraps around into range.
     */
    private static long userRangeEnd(long addr, long length) {
        if (addr < 0 || addr > AddressSpace.USER_VA_END || length < 0 || length > AddressSpace.USER_VA_END - addr) return -1;
        return AddressSpace.pageUp(addr + length);
    }

    private static long munmap(Task t, long addr, long length) {
        AddressSpace mm = t.mm();
        if ((addr & (PAGE_SIZE - 1)) != 0 || length <= 0) return -EINVAL;
        long end = userRangeEnd(addr, length);
        if (end < 0) return -EINVAL;
        return mm.unmap(addr, end) ? 0 : -ENOMEM;
    }

    private static long mprotect(Task t, long addr, long length, long prot) {
        AddressSpace mm = t.mm();
        if ((addr & (PAGE_SIZE - 1)) != 0 || length < 0 || (prot & ~PROT_ALL) != 0) return -EINVAL;
        long end = userRangeEnd(addr, length);
        if (end < 0) return -ENOMEM;
        if (length == 0) return 0;
        if (!mm.isFullyMapped(addr, end)) return -ENOMEM;
        return mm.protect(addr, end, (int) prot) ? 0 : -ENOMEM;
    }

    /**
     * Resizes the mapping at {@code oldAddr}, in place or (with MREMAP_MAYMOVE) elsewhere, with Linux's errors: an
     * address with no mapping is EFAULT, and so is growing a range that is not one mapping (here: pieces of one
     * protection, which Linux would have merged into one); sizes are unsigned, so a "negative" one is past the end of
     * user space. Sizes are checked before they are rounded, so that nothing wraps around.
     */
    private static long mremap(Task t, long oldAddr, long oldSize, long newSize, long flags, long newAddrHint) throws MemoryFault {
        AddressSpace mm = t.mm();
        if ((flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED)) != 0 || (flags & MREMAP_FIXED) != 0) return -EINVAL;
        if ((oldAddr & (PAGE_SIZE - 1)) != 0) return -EINVAL;
        if (newSize == 0 || Long.compareUnsigned(newSize, -PAGE_SIZE) > 0) return -EINVAL; // rounds up to 0
        if (Long.compareUnsigned(newSize, AddressSpace.USER_VA_END) > 0) return -ENOMEM;
        if (Long.compareUnsigned(oldSize, AddressSpace.USER_VA_END) > 0) return -EINVAL;
        AddressSpace.Mapping m = oldAddr < AddressSpace.USER_VA_END ? mm.mappingAt(oldAddr) : null;
        if (m == null) return -EFAULT;
        long oldLen = AddressSpace.pageUp(oldSize), newLen = AddressSpace.pageUp(newSize);
        if (oldLen == 0) return -EINVAL; // Linux duplicates only shared mappings this way
        if (oldLen > AddressSpace.USER_VA_END - oldAddr) return -EFAULT;
        long oldEnd = oldAddr + oldLen;
        if (newLen <= oldLen) {
            return mm.unmap(oldAddr + newLen, oldEnd) ? oldAddr : -ENOMEM; // a split past the mapping limit
        }
        for (long at = oldAddr; at < oldEnd; ) {
            AddressSpace.Mapping piece = mm.mappingAt(at);
            if (piece == null || piece.prot() != m.prot()) return -EFAULT;
            at = piece.end();
        }
        if (newLen <= AddressSpace.USER_VA_END - oldAddr && mm.isFree(oldEnd, oldAddr + newLen)) {
            return mm.map(oldEnd, newLen - oldLen, m.prot(), m.name()) ? oldAddr : -ENOMEM;
        }
        if ((flags & MREMAP_MAYMOVE) == 0) return -ENOMEM;
        long to = mm.findFree(newLen, 0);
        if (to < 0) return -ENOMEM;
        // The host copies through frames, so a PROT_NONE range moves through a readable one, then loses access again.
        int hostProt = m.prot() == PROT_NONE ? PROT_READ : m.prot();
        if (!mm.map(to, newLen, hostProt, m.name())) return -ENOMEM;
        mm.copy(oldAddr, to, oldLen);
        if (hostProt != m.prot()) mm.protect(to, to + newLen, m.prot());
        if (!mm.unmap(oldAddr, oldEnd)) { // splitting the old range would pass the mapping limit
            mm.unmap(to, to + newLen);
            return -ENOMEM;
        }
        return to;
    }

    private static long brk(Task t, long requested) {
        // Linux refuses a break below the heap's start or past its room by returning the old one. Checked before
        // rounding up, so that a value near the end of long cannot wrap around to a "smaller" heap.
        KernelState s = t.state();
        AddressSpace mm = t.mm();
        if (requested < s.brkStart() || requested > AddressSpace.MMAP_TOP) return s.brkEnd();
        long oldTop = AddressSpace.pageUp(s.brkEnd()), newTop = AddressSpace.pageUp(requested);
        if (newTop > oldTop) {
            if (newTop > AddressSpace.MMAP_TOP || !mm.isFree(oldTop, newTop)) return s.brkEnd();
            if (!mm.map(oldTop, newTop - oldTop, PROT_READ | PROT_WRITE, "[heap]")) return s.brkEnd();
        } else if (newTop < oldTop && !mm.unmap(newTop, oldTop)) {
            return s.brkEnd(); // a split past the mapping limit: Linux, too, keeps the old break
        }
        s.setBrkEnd(requested);
        return requested;
    }

    private static long madvise(Task t, long addr, long length, long advice) throws MemoryFault {
        AddressSpace mm = t.mm();
        if ((addr & (PAGE_SIZE - 1)) != 0 || length < 0) return -EINVAL;
        long end = userRangeEnd(addr, length);
        if (end < 0) return -EINVAL;
        if (advice == MADV_DONTNEED) {
            if (!mm.isFullyMapped(addr, end)) return -ENOMEM;
            // Anonymous private memory reads as zero after MADV_DONTNEED. Mapping by mapping: what the program
            // cannot write (PROT_NONE, read-only) is left as it is, and the work is bounded by its writable memory.
            for (long at = addr; at < end; ) {
                AddressSpace.Mapping m = mm.mappingAt(at);
                long upto = Math.min(end, m.end());
                if ((m.prot() & PROT_WRITE) != 0) mm.zeroOut(at, upto - at);
                at = upto;
            }
        }
        return 0;
    }
}
