package dev.flicker.guest;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestThreadsTest {
    /** The calling thread's nice value: field 19 of {@code /proc/thread-self/stat} (proc(5)), after the command's ")". */
    static int threadNice() {
        try {
            String stat = Files.readString(Path.of("/proc/thread-self/stat"));
            return Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[19 - 3]);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aGuestThreadRunsBelowThePlatformsThreadsAndTheOthersKeepTheirPriority() throws Exception {
        int platform = threadNice();
        ExecutorService guests = Executors.newCachedThreadPool(GuestThreads.factory("test-guest-"));
        try {
            CompletableFuture<String> seen = CompletableFuture.supplyAsync(() -> Thread.currentThread().getName() + " at " + threadNice(), guests);
            String ran = seen.get(10, TimeUnit.SECONDS);
            assertTrue(ran.startsWith("test-guest-"), ran);
            assertEquals("at " + GuestThreads.NICE, ran.substring(ran.indexOf("at ")));
        } finally {
            guests.shutdown();
        }
        assertEquals(platform, threadNice(), "the thread that made the guest thread keeps its own priority");
    }
}
