package dev.flicker.pool;

import dev.flicker.guest.RunResult;

/**
 * The outcome of one invocation: the program's run, the function's answer, how its VM started, and its
 * phases in nanoseconds, back to back:
 * <ul>
 *   <li>{@code vmReadyNanos}: getting a VM (taking a ready one, restoring one, or booting one);</li>
 *   <li>{@code initNanos}: the function's own initialisation in this invocation; zero from a snapshot,
 *       which was taken after initialisation;</li>
 *   <li>{@code deliverNanos}: handing the event to the VM;</li>
 *   <li>{@code handlerNanos}: from the event until the runtime posted its response or error (or, for a
 *       program that reads its event on stdin, until it stopped);</li>
 *   <li>{@code responseNanos}: from the posted response until the VM stopped and the answer was in hand.</li>
 * </ul>
 *
 * <p>The answer is what the runtime posted to the Runtime API ({@code /response}, or {@code /error} with
 * {@code errorType} set), or, for a program that reads its event on stdin and exits, its stdout
 * ({@code errorType} is then set when it did not exit with status 0).
 */
public record Invocation(RunResult result, byte[] response, String errorType, StartPath startPath, long vmReadyNanos,
                         long initNanos, long deliverNanos, long handlerNanos, long responseNanos) {
    public long totalNanos() {
        return vmReadyNanos + initNanos + deliverNanos + handlerNanos + responseNanos;
    }

    public boolean succeeded() {
        return errorType == null;
    }
}
