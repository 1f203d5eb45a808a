package dev.flicker.guest.memory;

/** A guest pointer that does not lead to memory the program may access; becomes EFAULT. */
public final class MemoryFault extends Exception {
    private final long address;

    public MemoryFault(long address) {
        super("bad guest address 0x" + Long.toHexString(address), null, false, false);
        this.address = address;
    }

    public long address() {
        return address;
    }
}
