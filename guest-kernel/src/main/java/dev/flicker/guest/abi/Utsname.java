package dev.flicker.guest.abi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

import static dev.flicker.guest.abi.Layouts.offset;

/** {@code struct new_utsname} (linux/utsname.h): six NUL-terminated fields of 65 bytes (390 bytes). */
public record Utsname(String sysname, String nodename, String release, String version, String machine,
                      String domainname) implements Marshallable {
    private static final int FIELD_BYTES = 65;
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(field("sysname"), field("nodename"),
            field("release"), field("version"), field("machine"), field("domainname"));

    private static MemoryLayout field(String name) {
        return MemoryLayout.sequenceLayout(FIELD_BYTES, ValueLayout.JAVA_BYTE).withName(name);
    }

    @Override
    public long sizeBytes() {
        return LAYOUT.byteSize();
    }

    @Override
    public void marshal(MemorySegment to) {
        put(to, "sysname", sysname);
        put(to, "nodename", nodename);
        put(to, "release", release);
        put(to, "version", version);
        put(to, "machine", machine);
        put(to, "domainname", domainname);
    }

    /** The field's bytes, cut to leave room for its NUL (which the zeroed buffer already holds). */
    private static void put(MemorySegment to, String field, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(bytes, 0, to, ValueLayout.JAVA_BYTE, offset(LAYOUT, field), Math.min(bytes.length, FIELD_BYTES - 1));
    }
}
