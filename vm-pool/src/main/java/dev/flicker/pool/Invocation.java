package dev.flicker.pool;

import dev.flicker.guest.RunResult;

/**
 * The outcome of one invocation: the program's run, the function's answer, how its VM started, and the
 * phases in nanoseconds (waiting for a VM, delivering the event, running the handler).
 *
 * <p>The answer is what the runtime posted to the Runtime API ({@code /response}, or {@code /error} with
 * {@code errorType} set), or, for a program that reads its event on stdin and exits, its stdout
 * ({@code errorType} is then set when it did not exit with status 0).
 */
public record Invocation(RunResult result, byte[] response, String errorType, StartPath startPath, long vmReadyNanos,
                         long deliverNanos, long runNanos) {
    public long totalNanos() {
        return vmReadyNanos + deliverNanos + runNanos;
    }

    public boolean succeeded() {
        return errorType == null;
    }
}
