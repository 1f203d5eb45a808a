package dev.flicker.guest;

import dev.flicker.guest.elf.ElfFile;
import dev.flicker.kvm.GuestMemory;
import dev.flicker.kvm.Sha256;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The in-guest half of the micro guest's kernel: {@code guest.elf}, built from {@code src/main/guest} and
 * shipped in this jar. Read once per process; its header must match {@link HostCallAbi}.
 */
public final class GuestImage {
    /** The header at the start of the image's 64-bit text, as guest.S lays it out. */
    public record Header(long magic, int abiVersion, long syscallEntry, long exceptionVectors, long hostcallPageVa,
                         long doorbellVa, long doorbellGpa, int exceptionPortBase, int hcNr, int hcArg0, int hcRip,
                         int hcRflags, int hcRet, int hcUserRsp, int hcScratchTop) {}

    private final byte[] elfBytes;
    private final ElfFile elf;
    private final Header header;
    private final String sha256;

    private GuestImage(byte[] elfBytes) {
        this.elfBytes = elfBytes;
        this.elf = ElfFile.parse(MemorySegment.ofArray(elfBytes));
        this.header = readHeader();
        this.sha256 = Sha256.hex(elfBytes);
        if (header.magic() != HostCallAbi.IMAGE_MAGIC || header.abiVersion() != HostCallAbi.VERSION) {
            throw new IllegalStateException("guest image speaks host-call ABI " + header.abiVersion()
                    + ", this host speaks " + HostCallAbi.VERSION + ": rebuild guest-kernel");
        }
    }

    private static final class Holder {
        static final GuestImage INSTANCE = load();
    }

    /** The image in this jar. */
    public static GuestImage builtIn() {
        return Holder.INSTANCE;
    }

    private static GuestImage load() {
        try (InputStream in = GuestImage.class.getResourceAsStream("guest.elf")) {
            if (in == null) throw new IllegalStateException("guest.elf is not on the class path: build guest-kernel with Maven");
            return new GuestImage(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Header readHeader() {
        ElfFile.Segment text = elf.loadSegments().stream().filter(s -> s.paddr() == HostCallAbi.IMAGE_TEXT_PHYS)
                .findFirst().orElseThrow(() -> new IllegalStateException("guest image has no text at 0x101000"));
        MemorySegment h = elf.contents(text);
        return new Header(h.get(ValueLayout.JAVA_LONG_UNALIGNED, 0), h.get(ValueLayout.JAVA_INT_UNALIGNED, 8),
                h.get(ValueLayout.JAVA_LONG_UNALIGNED, 16), h.get(ValueLayout.JAVA_LONG_UNALIGNED, 24),
                h.get(ValueLayout.JAVA_LONG_UNALIGNED, 32), h.get(ValueLayout.JAVA_LONG_UNALIGNED, 40),
                h.get(ValueLayout.JAVA_LONG_UNALIGNED, 48), h.get(ValueLayout.JAVA_INT_UNALIGNED, 56),
                h.get(ValueLayout.JAVA_INT_UNALIGNED, 60), h.get(ValueLayout.JAVA_INT_UNALIGNED, 64),
                h.get(ValueLayout.JAVA_INT_UNALIGNED, 68), h.get(ValueLayout.JAVA_INT_UNALIGNED, 72),
                h.get(ValueLayout.JAVA_INT_UNALIGNED, 76), h.get(ValueLayout.JAVA_INT_UNALIGNED, 80),
                h.get(ValueLayout.JAVA_INT_UNALIGNED, 84));
    }

    /** The SHA-256 of {@code guest.elf}, in hex: part of every snapshot's kind, so that a rebuilt image never restores old ones. */
    public String sha256() {
        return sha256;
    }

    public Header header() {
        return header;
    }

    public ElfFile elf() {
        return elf;
    }

    /** Copies the image's loadable segments to their physical addresses in {@code memory}. */
    public void loadInto(GuestMemory memory) {
        for (ElfFile.Segment s : elf.loadSegments()) {
            MemorySegment dst = memory.slice(s.paddr(), s.memSize());
            MemorySegment.copy(elf.contents(s), 0, dst, 0, s.fileSize());
        }
    }

    /** The guest-physical pages the 64-bit text occupies. */
    public long textPages() {
        return elf.loadSegments().stream().filter(s -> s.paddr() == HostCallAbi.IMAGE_TEXT_PHYS)
                .mapToLong(s -> (s.memSize() + 4095) / 4096).sum();
    }
}
