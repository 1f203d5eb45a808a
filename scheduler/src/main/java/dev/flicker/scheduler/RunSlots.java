package dev.flicker.scheduler;

import dev.flicker.guest.CpuLease;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * The host's run slots: one VM runs per slot (one per core, docs/decisions.md item 18), and everything that runs a VM
 * (an invocation, a function's initialisation) holds a slot while it does, through a {@link Ticket}.
 *
 * <ul>
 *   <li><b>Fair across functions.</b> Waiters queue per function, first come first served within one; a free slot goes
 *       to the functions with waiters in turn (round-robin), so one function's many waiting invocations do not starve
 *       another's single one.</li>
 *   <li><b>Time-sliced.</b> A VM that has held its slot for {@code sliceNanos} while another waits is preempted: its
 *       ticket says so and kicks its vCPU out of {@code KVM_RUN} ({@link CpuLease}); the run loop gives the slot back
 *       and queues again, behind its function's other waiters, to go on where it stopped. The longest holders go first,
 *       and no more of them than there are waiters.</li>
 *   <li><b>Blocking gives the slot up.</b> A VM that sleeps or waits in the host releases its slot meanwhile and queues
 *       again when it wakes.</li>
 * </ul>
 *
 * <p>Slices are measured on {@code clock} (tests give a fake one and call {@link #preemptExpired()} themselves); the
 * slicer thread ({@link #startSlicer()}) does that in production, waking when a slice ends while someone waits.
 */
final class RunSlots implements AutoCloseable {
    private final int slots;
    private final long sliceNanos;
    private final LongSupplier clock;
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when a waiter queues: the slicer then looks for a slice that is over. */
    private final Condition someoneWaits = lock.newCondition();
    /** Waiting tickets by function, each in arrival order; a function is in {@link #turns} exactly when it has some. */
    private final Map<String, ArrayDeque<Ticket>> queues = new HashMap<>();
    /** Functions with waiters, in the order they get the next free slots. */
    private final ArrayDeque<String> turns = new ArrayDeque<>();
    /** Tickets holding a slot, oldest grant first (a grant appends). */
    private final List<Ticket> holders = new ArrayList<>();
    private int waiting;
    private long preemptions;
    private boolean closed;
    private Thread slicer;

    RunSlots(int slots, long sliceNanos, LongSupplier clock) {
        if (slots < 1) throw new IllegalArgumentException("at least one run slot is needed, was " + slots);
        if (sliceNanos <= 0) throw new IllegalArgumentException("the time slice must be positive, was " + sliceNanos + " ns");
        this.slots = slots;
        this.sliceNanos = sliceNanos;
        this.clock = clock;
    }

    /** Starts the thread that preempts a holder whose slice is over while others wait. */
    RunSlots startSlicer() {
        slicer = Thread.ofPlatform().name("run-slots-slicer").daemon().start(this::slice);
        return this;
    }

    /** A ticket for one run of {@code function}'s VM (an invocation or an initialisation); it holds no slot yet. */
    Ticket ticket(String function) {
        return new Ticket(function);
    }

    /** Run slots, held now, waiting for one now, and preemptions since start. */
    record Figures(int slots, int running, int waiting, long preemptions) {}

    Figures figures() {
        lock.lock();
        try {
            return new Figures(slots, holders.size(), waiting, preemptions);
        } finally {
            lock.unlock();
        }
    }

    long sliceNanos() {
        return sliceNanos;
    }

    /**
     * Preempts holders whose slice is over, oldest first, while more tickets wait than holders were already asked to
     * give their slot back. Returns the nanoseconds until the next slice ends, or -1 when nobody waits.
     */
    long preemptExpired() {
        lock.lock();
        try {
            if (waiting == 0) return -1;
            long now = clock.getAsLong();
            int promised = 0;
            for (Ticket h : holders) if (h.preempted) promised++;
            int wanted = waiting - promised;
            long untilNext = sliceNanos;
            for (Ticket h : holders) {
                if (h.preempted) continue;
                long left = h.heldSinceNanos + sliceNanos - now;
                if (left <= 0 && wanted > 0) {
                    h.preempt();
                    wanted--;
                } else if (left > 0) {
                    untilNext = Math.min(untilNext, left);
                }
            }
            return untilNext;
        } finally {
            lock.unlock();
        }
    }

    private void slice() {
        lock.lock();
        try {
            while (!closed) {
                long untilNext = preemptExpired();
                if (untilNext < 0) someoneWaits.await();
                else someoneWaits.awaitNanos(untilNext);
            }
        } catch (InterruptedException e) {
            // closing
        } finally {
            lock.unlock();
        }
    }

    /** Stops lending: waiters get no slot ({@code acquire} answers false) and the slicer ends. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            someoneWaits.signalAll();
            for (ArrayDeque<Ticket> q : queues.values()) for (Ticket t : q) t.granted.signal();
        } finally {
            lock.unlock();
        }
        if (slicer != null) slicer.interrupt();
    }

    // ---- under the lock ----

    private void enqueue(Ticket t) {
        ArrayDeque<Ticket> q = queues.computeIfAbsent(t.function, f -> new ArrayDeque<>());
        if (q.isEmpty()) turns.addLast(t.function);
        q.addLast(t);
        t.queued = true;
        waiting++;
        someoneWaits.signal();
    }

    private void dequeue(Ticket t) {
        ArrayDeque<Ticket> q = queues.get(t.function);
        q.remove(t);
        t.queued = false;
        waiting--;
        if (q.isEmpty()) {
            queues.remove(t.function);
            turns.remove(t.function);
        }
    }

    /** Gives free slots to the functions with waiters, in turn, each its first waiter. */
    private void grantWaiters() {
        while (holders.size() < slots && !turns.isEmpty()) {
            String function = turns.pollFirst();
            ArrayDeque<Ticket> q = queues.get(function);
            Ticket next = q.pollFirst();
            next.queued = false;
            waiting--;
            if (q.isEmpty()) queues.remove(function);
            else turns.addLast(function);
            grant(next);
        }
    }

    private void grant(Ticket t) {
        t.preempted = false;
        t.heldSinceNanos = clock.getAsLong();
        holders.add(t);
        t.held = true;
        t.granted.signal();
    }

    /**
     * One run of a function's VM on the run slots: {@link #acquire()} before the VM runs, and closed after. In between,
     * the VM's run loop uses it as its {@link CpuLease}.
     */
    final class Ticket implements CpuLease, AutoCloseable {
        private final String function;
        private final Condition granted = lock.newCondition();
        /** Read by the run loop at every exit, written under the lock. */
        private volatile boolean held, preempted;
        private volatile Runnable kick;
        private boolean queued;
        private long heldSinceNanos;

        private Ticket(String function) {
            this.function = function;
        }

        String function() {
            return function;
        }

        /** Waits for a slot, however long that takes; false when the slots stopped lending (closing). */
        boolean acquire() {
            return acquire(0, false);
        }

        @Override
        public boolean acquire(long deadlineNanos) {
            return acquire(deadlineNanos, true);
        }

        private boolean acquire(long deadlineNanos, boolean bounded) {
            lock.lock();
            try {
                if (held) return true;
                if (closed) return false;
                if (turns.isEmpty() && holders.size() < slots) {
                    grant(this);
                    return true;
                }
                enqueue(this);
                try {
                    while (!held && !closed) {
                        if (!bounded) {
                            granted.await();
                            continue;
                        }
                        long left = deadlineNanos - System.nanoTime();
                        if (left <= 0) break;
                        granted.awaitNanos(left);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    if (queued) dequeue(this);
                }
                return held;
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void release() {
            lock.lock();
            try {
                if (!held) return;
                held = false;
                preempted = false;
                holders.remove(this);
                grantWaiters();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public boolean preempted() {
            return preempted || !held;
        }

        @Override
        public void running(Runnable kick) {
            this.kick = kick;
        }

        /** Under the lock: asks for the slot back, and kicks the VM out of the guest if it runs there now. */
        private void preempt() {
            preempted = true;
            preemptions++;
            Runnable k = kick;
            if (k != null) k.run();
        }

        /** Gives the slot back, if held. */
        @Override
        public void close() {
            release();
        }
    }
}
