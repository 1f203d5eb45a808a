package dev.flicker.kvm;

import dev.flicker.kvm.sys.Libc;
import dev.flicker.kvm.x86.X86;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Guest memory over a file mapped privately, as every clone of a snapshot maps it: which pages it copied, and copies made ahead. */
class GuestMemoryTest {
    static final int PAGES = 64, PAGE = (int) X86.PAGE_SIZE;
    static final long BYTES = (long) PAGES * PAGE;

    static GuestMemory mapPrivately(Path file) {
        int fd = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            return GuestMemory.privateFile(GuestAddress.of(0), fd, 0, BYTES);
        } finally {
            Libc.close(fd);
        }
    }

    static Path fileOfPageNumbers(Path dir) throws Exception {
        byte[] content = new byte[(int) BYTES];
        for (int page = 0; page < PAGES; page++) Arrays.fill(content, page * PAGE, (page + 1) * PAGE, (byte) page);
        return Files.write(dir.resolve("memory.bin"), content);
    }

    static BitSet pages(int... numbers) {
        BitSet set = new BitSet();
        for (int n : numbers) set.set(n);
        return set;
    }

    @Test
    void thePagesWrittenAreTheOnesHeldPrivatelyAndReadsCopyNothing(@TempDir Path dir) throws Exception {
        try (GuestMemory memory = mapPrivately(fileOfPageNumbers(dir))) {
            assertEquals(new BitSet(), memory.privatePages(), "nothing is copied by mapping");
            for (int page = 0; page < PAGES; page++) {
                assertEquals((byte) page, memory.segment().get(ValueLayout.JAVA_BYTE, (long) page * PAGE + 7));
            }
            assertEquals(new BitSet(), memory.privatePages(), "reading every page copies none");
            memory.segment().set(ValueLayout.JAVA_BYTE, 3L * PAGE, (byte) 1);
            memory.segment().set(ValueLayout.JAVA_BYTE, 40L * PAGE + 4095, (byte) 1);
            assertEquals(pages(3, 40), memory.privatePages());
        }
    }

    @Test
    void pagesCopiedAheadKeepTheFilesContentAndTheFileIsNeverWritten(@TempDir Path dir) throws Exception {
        Path file = fileOfPageNumbers(dir);
        byte[] before = Files.readAllBytes(file);
        try (GuestMemory memory = mapPrivately(file)) {
            BitSet ahead = pages(0, 1, 2, 10, 63);
            memory.prefaultWritable(ahead);
            assertEquals(ahead, memory.privatePages());
            for (int page = 0; page < PAGES; page++) {
                assertEquals((byte) page, memory.segment().get(ValueLayout.JAVA_BYTE, (long) page * PAGE + 100), "page " + page);
            }
            memory.segment().set(ValueLayout.JAVA_BYTE, 10L * PAGE, (byte) -1);
        }
        assertArrayEquals(before, Files.readAllBytes(file), "a private mapping's copies never reach the file");
    }

    @Test
    void aPageOutsideTheRegionIsRefused(@TempDir Path dir) throws Exception {
        try (GuestMemory memory = mapPrivately(fileOfPageNumbers(dir))) {
            assertThrows(IndexOutOfBoundsException.class, () -> memory.prefaultWritable(pages(PAGES)));
            assertTrue(memory.privatePages().isEmpty());
        }
    }
}
