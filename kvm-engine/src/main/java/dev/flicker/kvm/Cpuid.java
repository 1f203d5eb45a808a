package dev.flicker.kvm;

import dev.flicker.kvm.sys.KvmApi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/** The CPUID table a guest sees ({@code struct kvm_cpuid2}); a guest kind edits it before {@code KVM_SET_CPUID2}. */
public final class Cpuid {
    /** One {@code struct kvm_cpuid_entry2}. */
    public record Entry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
        public Entry withEcx(int value) {
            return new Entry(function, index, flags, eax, ebx, value, edx);
        }
    }

    private final List<Entry> entries;

    public Cpuid(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    static Cpuid parse(byte[] kvmCpuid2) {
        MemorySegment seg = MemorySegment.ofArray(kvmCpuid2);
        int n = seg.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        List<Entry> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long o = KvmApi.CPUID_HEADER + i * KvmApi.CPUID_ENTRY_SIZE;
            list.add(new Entry(seg.get(ValueLayout.JAVA_INT_UNALIGNED, o), seg.get(ValueLayout.JAVA_INT_UNALIGNED, o + 4),
                    seg.get(ValueLayout.JAVA_INT_UNALIGNED, o + 8), seg.get(ValueLayout.JAVA_INT_UNALIGNED, o + 12),
                    seg.get(ValueLayout.JAVA_INT_UNALIGNED, o + 16), seg.get(ValueLayout.JAVA_INT_UNALIGNED, o + 20),
                    seg.get(ValueLayout.JAVA_INT_UNALIGNED, o + 24)));
        }
        return new Cpuid(list);
    }

    /** The entry for (function, index), or null. */
    public Entry find(int function, int index) {
        for (Entry e : entries) if (e.function() == function && e.index() == index) return e;
        return null;
    }

    public Cpuid replace(Entry updated) {
        List<Entry> list = new ArrayList<>(entries);
        for (int i = 0; i < list.size(); i++) {
            Entry e = list.get(i);
            if (e.function() == updated.function() && e.index() == updated.index()) list.set(i, updated);
        }
        return new Cpuid(list);
    }

    /** Encodes as {@code struct kvm_cpuid2} into {@code out}, which must be large enough. */
    void encode(MemorySegment out) {
        out.set(ValueLayout.JAVA_INT, 0, entries.size());
        out.set(ValueLayout.JAVA_INT, 4, 0);
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            long o = KvmApi.CPUID_HEADER + i * KvmApi.CPUID_ENTRY_SIZE;
            out.set(ValueLayout.JAVA_INT, o, e.function());
            out.set(ValueLayout.JAVA_INT, o + 4, e.index());
            out.set(ValueLayout.JAVA_INT, o + 8, e.flags());
            out.set(ValueLayout.JAVA_INT, o + 12, e.eax());
            out.set(ValueLayout.JAVA_INT, o + 16, e.ebx());
            out.set(ValueLayout.JAVA_INT, o + 20, e.ecx());
            out.set(ValueLayout.JAVA_INT, o + 24, e.edx());
            out.asSlice(o + 28, 12).fill((byte) 0);
        }
    }

    long encodedSize() {
        return KvmApi.CPUID_HEADER + entries.size() * KvmApi.CPUID_ENTRY_SIZE;
    }
}
