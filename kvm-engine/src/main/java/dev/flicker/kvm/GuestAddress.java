package dev.flicker.kvm;

/** A guest-physical address, kept apart from host addresses and guest-virtual ones. */
public record GuestAddress(long value) {
    public static GuestAddress of(long value) {
        return new GuestAddress(value);
    }

    @Override
    public String toString() {
        return "gpa 0x" + Long.toHexString(value);
    }
}
