package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

import static dev.flicker.guest.abi.Layouts.BE16;
import static dev.flicker.guest.abi.Layouts.BE32;
import static dev.flicker.guest.abi.Layouts.U16;
import static dev.flicker.guest.abi.Layouts.offset;
import static dev.flicker.guest.abi.Layouts.u16;
import static dev.flicker.guest.abi.Layouts.u32;

/** {@code struct sockaddr_in} (linux/in.h, 16 bytes); port and address in network byte order in memory. */
public record SockaddrIn(int family, int port, int address) implements Marshallable {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(u16("sin_family"), u16("sin_port"),
            u32("sin_addr"), MemoryLayout.sequenceLayout(8, ValueLayout.JAVA_BYTE).withName("sin_zero"));
    private static final long FAMILY = offset(LAYOUT, "sin_family"), PORT = offset(LAYOUT, "sin_port"),
            ADDR = offset(LAYOUT, "sin_addr");
    /** The bytes that name the address (family, port, address): what {@code connect} reads, without the padding. */
    public static final long ADDRESS_BYTES = offset(LAYOUT, "sin_zero");

    /** Reads family, port and address from {@code from}, which holds at least {@link #ADDRESS_BYTES}. */
    public static SockaddrIn unmarshal(MemorySegment from) {
        return new SockaddrIn(Short.toUnsignedInt(from.get(U16, FAMILY)), Short.toUnsignedInt(from.get(BE16, PORT)),
                from.get(BE32, ADDR));
    }

    @Override
    public long sizeBytes() {
        return LAYOUT.byteSize();
    }

    @Override
    public void marshal(MemorySegment to) {
        to.set(U16, FAMILY, (short) family);
        to.set(BE16, PORT, (short) port);
        to.set(BE32, ADDR, address);
    }
}
