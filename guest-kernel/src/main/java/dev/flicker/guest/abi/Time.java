package dev.flicker.guest.abi;

/** Clock ids and timer flags (linux/time.h). */
public final class Time {
    private Time() {}

    public static final int CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_PROCESS_CPUTIME_ID = 2,
            CLOCK_THREAD_CPUTIME_ID = 3, CLOCK_MONOTONIC_RAW = 4, CLOCK_REALTIME_COARSE = 5, CLOCK_MONOTONIC_COARSE = 6,
            CLOCK_BOOTTIME = 7, CLOCK_REALTIME_ALARM = 8, CLOCK_BOOTTIME_ALARM = 9, CLOCK_TAI = 11;

    public static final int TIMER_ABSTIME = 1;

    public static final long NANOS_PER_SECOND = 1_000_000_000L, NANOS_PER_MICRO = 1_000L;
}
