package dev.flicker.kvm.x86;

/** The special registers of a vCPU ({@code struct kvm_sregs}, without the pending-interrupt bitmap). */
public record Sregs(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss, Segment tr, Segment ldt,
                    DescriptorTable gdt, DescriptorTable idt, long cr0, long cr2, long cr3, long cr4, long cr8,
                    long efer, long apicBase) {

    public Segment segment(int index) {
        return switch (index) {
            case 0 -> cs;
            case 1 -> ds;
            case 2 -> es;
            case 3 -> fs;
            case 4 -> gs;
            case 5 -> ss;
            case 6 -> tr;
            case 7 -> ldt;
            default -> throw new IllegalArgumentException("segment " + index);
        };
    }

    /** Long mode with paging at {@code cr3}: the state a 64-bit guest starts in when the VMM does the setup. */
    public Sregs withLongMode(long cr3, long cr0Bits, long cr4Bits, long eferBits) {
        return new Sregs(cs, ds, es, fs, gs, ss, tr, ldt, gdt, idt, cr0Bits, cr2, cr3, cr4Bits, cr8, eferBits, apicBase);
    }

    public Sregs withSegments(Segment code, Segment data, Segment task) {
        return new Sregs(code, data, data, data, data, data, task, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer,
                apicBase);
    }

    public Sregs withTables(DescriptorTable newGdt, DescriptorTable newIdt) {
        return new Sregs(cs, ds, es, fs, gs, ss, tr, ldt, newGdt, newIdt, cr0, cr2, cr3, cr4, cr8, efer, apicBase);
    }
}
