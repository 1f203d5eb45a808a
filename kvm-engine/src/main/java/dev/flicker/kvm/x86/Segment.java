package dev.flicker.kvm.x86;

/** A segment register as KVM sees it ({@code struct kvm_segment}). */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl, boolean db, boolean s,
                      boolean l, boolean g, boolean avl, boolean unusable) {

    /** A flat 64-bit code segment at privilege {@code dpl}, as {@code selector}. */
    public static Segment code64(int selector, int dpl) {
        return new Segment(0, 0xFFFFFFFF, selector, 0xB, true, dpl, false, true, true, true, false, false);
    }

    /** A flat writable data segment at privilege {@code dpl}, as {@code selector}. */
    public static Segment data(int selector, int dpl) {
        return new Segment(0, 0xFFFFFFFF, selector, 0x3, true, dpl, true, true, false, true, false, false);
    }

    /** A busy 64-bit TSS at {@code base}. */
    public static Segment tss(int selector, long base, int limit) {
        return new Segment(base, limit, selector, 0xB, true, 0, false, false, false, false, false, false);
    }

    public Segment withBase(long newBase) {
        return new Segment(newBase, limit, selector, type, present, dpl, db, s, l, g, avl, unusable);
    }
}
