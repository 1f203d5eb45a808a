package dev.flicker.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waits in tests, scaled to the machine. {@link #SCALE} says how much slower this machine runs the tests than a
 * host with native KVM: 1 there, and what {@code ./flicker test} sets in {@code FLICKER_TEST_TIME_SCALE} inside the
 * emulated SVM host. Every time limit a test waits for (a platform's start, a function becoming {@code Active}, an
 * asynchronous result) goes through here, so that no test passes only because its limit is generous on a fast host
 * and none fails only because the host is emulated.
 */
public final class TestTime {
    public static final double SCALE = scaleFrom(System.getenv("FLICKER_TEST_TIME_SCALE"));

    private static final Duration POLL = Duration.ofMillis(50);

    private TestTime() {
    }

    static double scaleFrom(String value) {
        if (value == null || value.isBlank()) return 1;
        try {
            double scale = Double.parseDouble(value);
            if (scale >= 1 && scale <= 1000) return scale;
        } catch (NumberFormatException ignored) {
            // refused below with the value
        }
        throw new IllegalArgumentException("FLICKER_TEST_TIME_SCALE must be a number from 1 to 1000, was '" + value + "'");
    }

    /** {@code limit} on a native KVM host, times {@link #SCALE} here. */
    public static Duration scaled(Duration limit) {
        return Duration.ofNanos((long) (limit.toNanos() * SCALE));
    }

    public static long scaledMillis(long limitMillis) {
        return (long) (limitMillis * SCALE);
    }

    /** Polls until {@code done} holds; fails naming {@code what} after the scaled {@code limit}. */
    public static void await(String what, Duration limit, BooleanSupplier done) {
        await(what, limit, () -> done.getAsBoolean() ? Boolean.TRUE : null);
    }

    /**
     * Polls {@code probe} until it returns non-null and returns that; fails naming {@code what} after the scaled
     * {@code limit}. Exceptions of the probe propagate.
     */
    public static <T> T await(String what, Duration limit, Supplier<T> probe) {
        long deadline = System.nanoTime() + scaled(limit).toNanos();
        while (true) {
            T value = probe.get();
            if (value != null) return value;
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("waited " + scaled(limit).toMillis() + " ms (" + limit.toMillis()
                        + " ms x time scale " + SCALE + ") for " + what);
            }
            try {
                Thread.sleep(POLL);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what, e);
            }
        }
    }
}
