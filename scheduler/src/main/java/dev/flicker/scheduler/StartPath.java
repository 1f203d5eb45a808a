package dev.flicker.scheduler;

/** How the VM of an invocation came to be, as the records and the overview report it. */
public enum StartPath {
    /** A VM restored ahead of demand was ready. */
    POOL_HIT,
    /** No VM was ready: one was restored from the snapshot while the invocation waited (the cold path). */
    RESTORE_ON_DEMAND,
    /** No snapshot: the function started from scratch (boot, load, initialise). */
    FRESH_START
}
