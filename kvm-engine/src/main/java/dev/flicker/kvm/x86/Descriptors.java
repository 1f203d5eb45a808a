package dev.flicker.kvm.x86;

/** Encodes GDT and IDT entries (SDM vol. 3, sections 3.4.5, 7.2.3 and 6.14.1). */
public final class Descriptors {
    private Descriptors() {}

    /** A flat 64-bit code segment descriptor (L=1, present, readable). */
    public static long code64(int dpl) {
        return 0x00AF_9B00_0000_FFFFL | ((long) dpl << 45);
    }

    /** A flat 32-bit writable data segment descriptor. */
    public static long data(int dpl) {
        return 0x00CF_9300_0000_FFFFL | ((long) dpl << 45);
    }

    /** The two 8-byte halves of a 64-bit available TSS descriptor. */
    public static long[] tss64(long base, int limit) {
        long low = (limit & 0xFFFFL) | ((base & 0xFF_FFFFL) << 16) | (0x89L << 40) | (((long) limit >>> 16 & 0xF) << 48)
                | ((base >>> 24 & 0xFF) << 56);
        return new long[] {low, base >>> 32};
    }

    /** The two 8-byte halves of a 64-bit interrupt gate to {@code handler} through code {@code selector}. */
    public static long[] interruptGate(long handler, int selector, int dpl, int ist) {
        long low = (handler & 0xFFFF) | ((long) selector << 16) | ((long) (ist & 7) << 32) | ((0x8EL | (long) dpl << 5) << 40)
                | ((handler >>> 16 & 0xFFFF) << 48);
        return new long[] {low, handler >>> 32};
    }
}
