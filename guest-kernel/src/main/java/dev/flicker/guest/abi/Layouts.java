package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * What the ABI structs are made of. Struct layouts use the aligned x86-64 types, so that a layout refuses a field
 * the C compiler would have padded; fields are read and written with unaligned accessors at the offsets the layout
 * gives, so that any buffer works (a byte array, guest memory). x86-64 is little-endian, as is the host.
 */
final class Layouts {
    private Layouts() {}

    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    /** Network byte order, for the port and address of a {@code sockaddr_in}. */
    static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    static MemoryLayout u64(String name) {
        return ValueLayout.JAVA_LONG.withName(name);
    }

    static MemoryLayout u32(String name) {
        return ValueLayout.JAVA_INT.withName(name);
    }

    static MemoryLayout u16(String name) {
        return ValueLayout.JAVA_SHORT.withName(name);
    }

    static MemoryLayout u8(String name) {
        return ValueLayout.JAVA_BYTE.withName(name);
    }

    /** The offset of field {@code name} in {@code layout}. */
    static long offset(StructLayout layout, String name) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(name));
    }
}
