package dev.flicker.scheduler;

/**
 * How one invocation ended: the function's answer, how its VM started, its phases in nanoseconds (back to back), and
 * what the program wrote.
 *
 * <ul>
 *   <li>{@code queuedNanos}: from the moment the request was accepted (an Event attempt: came due) until it was
 *       admitted and held a run slot;</li>
 *   <li>{@code vmReadyNanos}: getting a VM (taking a ready one, or restoring one now);</li>
 *   <li>{@code initNanos}: the function's initialisation in this invocation; zero from a snapshot;</li>
 *   <li>{@code deliverNanos}: handing the event to the VM;</li>
 *   <li>{@code handlerNanos}: from the event until the runtime posted its response or error, on the wall clock: time
 *       the VM waited for a run slot after a preemption or a sleep is in it, as it counts against the timeout;</li>
 *   <li>{@code responseNanos}: from the posted response until the VM stopped and the answer was in hand.</li>
 * </ul>
 *
 * <p>The answer is what the runtime posted ({@code /response}, or {@code /error} with {@code errorType} set); when
 * it posted nothing, {@code errorType} says why the run ended ({@code Sandbox.Timedout} at the timeout, and so on).
 * {@code stdout} and {@code stderr} are what was kept of the program's output; {@code droppedOutputBytes} counts what
 * did not fit. {@code memoryMib} and {@code timeoutMillis} are the settings of the version that ran.
 */
public record Invoked(byte[] response, String errorType, StartPath startPath, long queuedNanos, long vmReadyNanos,
                      long initNanos, long deliverNanos, long handlerNanos, long responseNanos, byte[] stdout,
                      byte[] stderr, long droppedOutputBytes, int memoryMib, long timeoutMillis) {
    /** Every phase but the queued one: the invocation's duration. */
    public long totalNanos() {
        return vmReadyNanos + initNanos + deliverNanos + handlerNanos + responseNanos;
    }

    public boolean succeeded() {
        return errorType == null;
    }
}
