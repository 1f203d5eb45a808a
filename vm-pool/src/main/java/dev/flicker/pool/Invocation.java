package dev.flicker.pool;

import dev.flicker.guest.RunResult;

/**
 * The outcome of one invocation: the program's result, how its VM started, and the phases in nanoseconds
 * (waiting for a VM, delivering the event, running the handler to its exit).
 */
public record Invocation(RunResult result, StartPath startPath, long vmReadyNanos, long deliverNanos, long runNanos) {
    public long totalNanos() {
        return vmReadyNanos + deliverNanos + runNanos;
    }
}
