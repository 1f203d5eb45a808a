package dev.flicker.scheduler;

/**
 * Where Event invocations wait until they run: the platform's durable store. The scheduler's dispatch workers
 * ({@link Scheduler#dispatchEvents}) claim the next due one, run it as {@link Scheduler#invoke} does, and hand back
 * how it went; the store records it (success, a retry, a dead letter) and keeps every attempt durable.
 */
public interface EventQueue<E extends EventQueue.Due> {
    /** An Event invocation that came due, claimed by one worker: what to run, and when it came due. */
    interface Due {
        /** The key its version is deployed under ({@link Scheduler#deploy}). */
        String key();

        Scheduler.Request request();
    }

    /** Claims the next due Event invocation, or returns null when none is due now. */
    E claim();

    /** The attempt ran: the function answered, failed or timed out, as {@code outcome} says. */
    void ran(E due, Invoked outcome);

    /**
     * The attempt did not run, or failed in the platform: {@code why} is a {@link Scheduler.NotReady},
     * {@link Admission.TooManyRequests}, {@link Scheduler.HostCannotRun} or another fault.
     */
    void refused(E due, RuntimeException why);
}
