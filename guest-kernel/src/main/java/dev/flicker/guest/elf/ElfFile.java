package dev.flicker.guest.elf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A parsed ELF64 x86-64 file (System V ABI, "ELF header" and "Program header"). The file is untrusted:
 * every offset and size is checked against the file before use, and problems are {@link ElfException}s.
 */
public final class ElfFile {
    public static final int ET_EXEC = 2, ET_DYN = 3;
    public static final int PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_NOTE = 4, PT_PHDR = 6, PT_TLS = 7,
            PT_GNU_STACK = 0x6474e551;
    public static final int PF_X = 1, PF_W = 2, PF_R = 4;
    /** The longest interpreter path taken, NUL included: Linux's PATH_MAX. */
    public static final int MAX_INTERPRETER_BYTES = 4096;

    /** One program header. */
    public record Segment(int type, int flags, long offset, long vaddr, long paddr, long fileSize, long memSize,
                          long align) {}

    private final MemorySegment file;
    private final int type;
    private final long entry;
    private final long phoff;
    private final int phentsize;
    private final List<Segment> segments;

    private ElfFile(MemorySegment file) {
        this.file = file;
        if (file.byteSize() < 64) throw new ElfException("not an ELF file: only " + file.byteSize() + " bytes");
        if (file.get(ValueLayout.JAVA_INT_UNALIGNED, 0) != 0x464c457f) throw new ElfException("not an ELF file (bad magic)");
        if (file.get(ValueLayout.JAVA_BYTE, 4) != 2) throw new ElfException("not a 64-bit ELF file");
        if (file.get(ValueLayout.JAVA_BYTE, 5) != 1) throw new ElfException("not a little-endian ELF file");
        int machine = Short.toUnsignedInt(file.get(ValueLayout.JAVA_SHORT_UNALIGNED, 18));
        if (machine != 62) throw new ElfException("not an x86-64 program (e_machine " + machine + ")");
        this.type = Short.toUnsignedInt(file.get(ValueLayout.JAVA_SHORT_UNALIGNED, 16));
        this.entry = file.get(ValueLayout.JAVA_LONG_UNALIGNED, 24);
        this.phoff = file.get(ValueLayout.JAVA_LONG_UNALIGNED, 32);
        this.phentsize = Short.toUnsignedInt(file.get(ValueLayout.JAVA_SHORT_UNALIGNED, 54));
        int phnum = Short.toUnsignedInt(file.get(ValueLayout.JAVA_SHORT_UNALIGNED, 56));
        if (phentsize != 56) throw new ElfException("unexpected program header size " + phentsize);
        if (phoff < 0 || phnum > 256 || phoff > file.byteSize() - phnum * 56L) {
            throw new ElfException("program headers lie outside the file");
        }
        List<Segment> list = new ArrayList<>(phnum);
        for (int i = 0; i < phnum; i++) {
            long o = phoff + i * 56L;
            Segment s = new Segment(file.get(ValueLayout.JAVA_INT_UNALIGNED, o), file.get(ValueLayout.JAVA_INT_UNALIGNED, o + 4),
                    file.get(ValueLayout.JAVA_LONG_UNALIGNED, o + 8), file.get(ValueLayout.JAVA_LONG_UNALIGNED, o + 16),
                    file.get(ValueLayout.JAVA_LONG_UNALIGNED, o + 24), file.get(ValueLayout.JAVA_LONG_UNALIGNED, o + 32),
                    file.get(ValueLayout.JAVA_LONG_UNALIGNED, o + 40), file.get(ValueLayout.JAVA_LONG_UNALIGNED, o + 48));
            if (s.type() == PT_LOAD || s.type() == PT_NOTE || s.type() == PT_INTERP) {
                if (s.offset() < 0 || s.fileSize() < 0 || s.offset() > file.byteSize() - s.fileSize()) {
                    throw new ElfException("segment " + i + " lies outside the file");
                }
                if (s.memSize() < s.fileSize() || s.memSize() > (1L << 40)) {
                    throw new ElfException("segment " + i + " has a bad size");
                }
            }
            list.add(s);
        }
        this.segments = List.copyOf(list);
    }

    public static ElfFile parse(MemorySegment file) {
        return new ElfFile(file);
    }

    public int type() {
        return type;
    }

    public long entry() {
        return entry;
    }

    public long programHeaderOffset() {
        return phoff;
    }

    public int programHeaderCount() {
        return segments.size();
    }

    public List<Segment> segments() {
        return segments;
    }

    public List<Segment> loadSegments() {
        return segments.stream().filter(s -> s.type() == PT_LOAD).toList();
    }

    public boolean hasInterpreter() {
        return segments.stream().anyMatch(s -> s.type() == PT_INTERP);
    }

    /**
     * The path {@code PT_INTERP} names (the dynamic loader, {@code /lib64/ld-linux-x86-64.so.2} for glibc), or null
     * for a static program. The segment must hold one NUL-terminated path of at most {@link #MAX_INTERPRETER_BYTES}.
     */
    public String interpreter() {
        Segment interp = segments.stream().filter(s -> s.type() == PT_INTERP).findFirst().orElse(null);
        if (interp == null) return null;
        if (interp.fileSize() < 2 || interp.fileSize() > MAX_INTERPRETER_BYTES) {
            throw new ElfException("PT_INTERP holds " + interp.fileSize() + " bytes, not a path");
        }
        byte[] path = file.asSlice(interp.offset(), interp.fileSize()).toArray(ValueLayout.JAVA_BYTE);
        int end = 0;
        while (path[end] != 0) {
            if (++end == path.length) throw new ElfException("PT_INTERP's path is not NUL-terminated");
        }
        if (end != path.length - 1 || path[0] != '/') throw new ElfException("PT_INTERP does not hold one absolute path");
        return new String(path, 0, end, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** The bytes of a segment as stored in the file. */
    public MemorySegment contents(Segment s) {
        return file.asSlice(s.offset(), s.fileSize());
    }

    public MemorySegment bytes() {
        return file;
    }
}
