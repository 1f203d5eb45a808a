package dev.flicker.scheduler;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Concurrency admission, as Lambda does it: a global limit on invocations in flight, and per function either
 * a reserved concurrency (that many slots are set aside for it, and it may use no more) or a share of the
 * unreserved rest. An invocation past its limit is refused at once (the API answers 429), never queued.
 */
public final class Admission {
    /** Refused: the function or the platform is at its concurrency limit. */
    public static final class TooManyRequests extends RuntimeException {
        private final String reason;

        TooManyRequests(String reason, String message) {
            super(message);
            this.reason = reason;
        }

        /** Lambda's reason code: {@code ReservedFunctionConcurrentInvocationLimitExceeded} or {@code ConcurrentInvocationLimitExceeded}. */
        public String reason() {
            return reason;
        }
    }

    /** A slot held by one invocation; closing it gives the slot back, once. */
    public final class Permit implements AutoCloseable {
        private final String function;
        private final boolean reserved;
        private boolean closed;

        Permit(String function, boolean reserved) {
            this.function = function;
            this.reserved = reserved;
        }

        @Override
        public void close() {
            synchronized (Admission.this) {
                if (closed) return;
                closed = true;
                inFlight.merge(function, -1, Integer::sum);
                if (!reserved) unreservedInFlight--;
            }
        }
    }

    private final int globalLimit;
    private final Map<String, Integer> reservations = new ConcurrentHashMap<>();
    private final Map<String, Integer> inFlight = new ConcurrentHashMap<>();
    private int reservedTotal;
    private int unreservedInFlight;

    public Admission(int globalLimit) {
        if (globalLimit < 1) throw new IllegalArgumentException("the global concurrency limit must be at least 1");
        this.globalLimit = globalLimit;
    }

    public int globalLimit() {
        return globalLimit;
    }

    /**
     * Sets (or with {@code null} removes) {@code function}'s reserved concurrency. Lambda keeps at least 100
     * slots unreserved; Flicker keeps at least one, so that functions without a reservation can always run.
     */
    public synchronized void reserve(String function, Integer slots) {
        int old = reservations.getOrDefault(function, 0);
        int wanted = slots == null ? 0 : slots;
        if (wanted < 0) throw new IllegalArgumentException("reserved concurrency must not be negative");
        if (reservedTotal - old + wanted > globalLimit - 1) {
            throw new IllegalArgumentException("reserving " + wanted + " would leave fewer than 1 of the platform's "
                    + globalLimit + " concurrent invocations unreserved");
        }
        reservedTotal += wanted - old;
        if (slots == null) reservations.remove(function);
        else reservations.put(function, wanted);
    }

    /** Takes a slot for one invocation of {@code function}, or throws {@link TooManyRequests}. */
    public synchronized Permit admit(String function) {
        int running = inFlight.getOrDefault(function, 0);
        Integer reserved = reservations.get(function);
        if (reserved != null) {
            if (running >= reserved) {
                throw new TooManyRequests("ReservedFunctionConcurrentInvocationLimitExceeded",
                        "Rate Exceeded: " + function + " has " + running + " invocations in flight, its reserved concurrency is " + reserved);
            }
        } else if (unreservedInFlight >= globalLimit - reservedTotal) {
            throw new TooManyRequests("ConcurrentInvocationLimitExceeded",
                    "Rate Exceeded: " + unreservedInFlight + " unreserved invocations in flight, the limit is " + (globalLimit - reservedTotal));
        }
        inFlight.merge(function, 1, Integer::sum);
        if (reserved == null) unreservedInFlight++;
        return new Permit(function, reserved != null);
    }

    public synchronized int inFlight(String function) {
        return inFlight.getOrDefault(function, 0);
    }

    /** Invocations in flight across all functions, reserved or not (what {@link #globalLimit()} bounds). */
    public synchronized int inFlightTotal() {
        int total = 0;
        for (int n : inFlight.values()) total += n;
        return total;
    }
}
