package dev.flicker.kvm.sys;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The libc calls whose effect the engine cannot see otherwise, read back from {@code /proc}. */
class LibcTest {
    /** The calling thread's nice value: field 19 of {@code /proc/thread-self/stat} (proc(5)), after the command's ")". */
    static int threadNice() throws IOException {
        String stat = Files.readString(Path.of("/proc/thread-self/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Integer.parseInt(fields[19 - 3]);
    }

    @Test
    void setThreadNiceLowersTheCallingThreadAloneAndOnlyIt() throws Exception {
        int mine = threadNice();
        assertTrue(mine < 19, "this test's thread is not already at the lowest priority: " + mine);
        AtomicInteger seen = new AtomicInteger(Integer.MIN_VALUE);
        Thread other = Thread.ofPlatform().start(() -> {
            try {
                Libc.setThreadNice(19);
                seen.set(threadNice());
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
        other.join();
        assertEquals(19, seen.get(), "the thread that asked runs at nice 19");
        assertEquals(mine, threadNice(), "the other threads of the process keep theirs");
    }
}
