package dev.flicker.deploy;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where a process's CPU went, by thread group, read from /proc: a thread that spins shows up under its name. */
class ThreadCpuTest {
    @Test
    void aSpinningThreadsCpuIsCountedUnderItsNameWithoutItsNumber() throws Exception {
        ThreadCpu before = ThreadCpu.of(ProcessHandle.current().pid());
        Thread spinner = Thread.ofPlatform().name("cpu-spinner-7").start(() -> {
            long end = System.nanoTime() + 600_000_000L, x = 0;
            while (System.nanoTime() < end) x += Long.numberOfTrailingZeros(x + System.nanoTime());
            if (x == 42) System.out.println(x);
        });
        Thread.sleep(400);
        ThreadCpu spent = ThreadCpu.of(ProcessHandle.current().pid()).minus(before); // read while it runs: a thread's time leaves /proc with it
        spinner.join();
        double ms = spent.millisByGroup().getOrDefault("cpu-spinner-#", 0.0);
        assertTrue(ms >= 100, spent.millisByGroup() + ": " + ms + " ms under cpu-spinner-#");
        assertTrue(spent.totalMillis() >= ms);
        assertTrue(spent.table(4).contains("cpu-spinner-#"), spent.table(4));
    }
}
