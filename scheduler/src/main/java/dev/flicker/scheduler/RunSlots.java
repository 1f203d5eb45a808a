package dev.flicker.scheduler;

import dev.flicker.guest.CpuLease;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * The host's run slots: one VM runs per slot (one per core, docs/decisions.md decisions 18 and 29), and everything that
 * runs a VM (an invocation, a function's initialisation) holds a slot while it does, through a {@link Ticket}.
 *
 * <ul>
 *   <li><b>Fair across functions, by what each used lately.</b> Waiters queue per function, first come first served
 *       within one. A free slot goes to the waiting function that held slots the least lately (its slot time, halved
 *       every {@value #USAGE_HALF_LIFE_MILLIS} ms); between equals, to each in turn (round-robin). A function that
 *       runs briefly now and then goes before one that used all it was given, and one function's many waiting
 *       invocations do not keep another's single one waiting.</li>
 *   <li><b>Time-sliced.</b> A VM that has held its slot for {@code sliceNanos} while another function's VM waits is
 *       preempted; its own function's waiters wait for its end, first come first served (slicing among them shares
 *       the same CPU in a different order and only lengthens the queue's tail: at 64 callers of one function,
 *       {@code bench api}'s p99 doubled with 5 ms slices). When
 *       its run loop is running the guest, its slot goes to the next waiter at once and its vCPU is kicked out of
 *       {@code KVM_RUN} ({@link CpuLease}): the slot does not wait for the kicked thread to be scheduled (on a busy
 *       host that can take milliseconds), since until it runs it uses no CPU, and when it runs it leaves the guest
 *       first. Before its run loop (a restore, a boot, the event's delivery), work that no kick stops, it is asked to
 *       give the slot back and does so where its run loop begins: a slot always bounds what runs. Either way its run
 *       loop then queues again, behind its function's other waiters, to go on where it stopped. The longest holders
 *       go first, and no more of them than there are waiters.</li>
 *   <li><b>A light function does not wait for a slice to end.</b> When the next waiter's function used at least a
 *       slice less lately than a holder's, that holder is preempted as soon as it has had a quarter of its slice: a
 *       light tenant waits for a kick, not for a spinning tenant's slice.</li>
 *   <li><b>Blocking gives the slot up.</b> A VM that sleeps or waits in the host releases its slot meanwhile and queues
 *       again when it wakes.</li>
 * </ul>
 *
 * <p>Time is measured on {@code clock}. A waiter preempts what is due for it as it queues; the slicer thread
 * ({@link #startSlicer()}) preempts when a slice ends while someone waits (tests give a fake clock and call
 * {@link #preemptExpired()} themselves instead).
 */
final class RunSlots implements AutoCloseable {
    /** How fast a function's past use of the slots is forgotten: halved every this many milliseconds. */
    static final long USAGE_HALF_LIFE_MILLIS = 1000;
    private static final double USAGE_DECAY_PER_NANO = Math.log(2) / TimeUnit.MILLISECONDS.toNanos(USAGE_HALF_LIFE_MILLIS);
    /** A function whose recent use fell below this, with nothing waiting or held, is forgotten (as good as new). */
    private static final double FORGOTTEN_BELOW_NANOS = 100_000;

    private final int slots;
    private final long sliceNanos;
    private final LongSupplier clock;
    /** Guards everything below; package-private so that a test can order the threads around it. */
    final ReentrantLock lock = new ReentrantLock();
    /** Signalled when a waiter queues: the slicer then looks for a holder to preempt. */
    private final Condition someoneWaits = lock.newCondition();
    /** The functions that wait, hold a slot or held one lately. */
    private final Map<String, Share> shares = new HashMap<>();
    /** Functions with waiters, in the order they get the next free slots among equals. */
    private final ArrayDeque<Share> turns = new ArrayDeque<>();
    /** Tickets holding a slot, oldest grant first (a grant appends). */
    private final List<Ticket> holders = new ArrayList<>();
    private int waiting;
    private long preemptions;
    private long forgottenAtNanos;
    private boolean closed;
    private Thread slicer;

    RunSlots(int slots, long sliceNanos, LongSupplier clock) {
        if (slots < 1) throw new IllegalArgumentException("at least one run slot is needed, was " + slots);
        if (sliceNanos <= 0) throw new IllegalArgumentException("the time slice must be positive, was " + sliceNanos + " ns");
        this.slots = slots;
        this.sliceNanos = sliceNanos;
        this.clock = clock;
        this.forgottenAtNanos = clock.getAsLong();
    }

    /** Starts the thread that preempts holders while others wait. */
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

    /** How many nanoseconds of slot time {@code function} used lately (decayed), its current holds included. */
    double recentUseNanos(String function) {
        lock.lock();
        try {
            Share s = shares.get(function);
            return s == null ? 0 : s.recentNanos(clock.getAsLong());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Preempts the holders whose slot a waiter must get now, each slot going to the next waiter at once: holders whose
     * slice is over, oldest first, while a waiter of another function than theirs is left; then, while the next waiting function used at least a slice less
     * lately than a holder's, that holder once it has had a quarter slice. Returns the nanoseconds until the next
     * holder becomes due, or -1 when nobody waits.
     */
    long preemptExpired() {
        lock.lock();
        try {
            if (waiting == 0) return -1;
            long now = clock.getAsLong();
            // Waiters that no holder was asked to make room for yet.
            int unserved = waiting;
            for (Ticket h : holders) if (h.asked) unserved--;
            long untilNext = sliceNanos;
            for (Ticket h : List.copyOf(holders)) {
                if (unserved <= 0) break;
                if (h.asked) continue;
                if (unserved <= h.share.queue.size()) continue; // only its own function's waiters are left
                long held = now - h.heldSinceNanos;
                if (held >= sliceNanos) {
                    h.preempt(now);
                    unserved--;
                } else {
                    untilNext = Math.min(untilNext, sliceNanos - held);
                }
            }
            while (unserved > 0) {
                double nextUse = lightestWaiting(now).recentNanos(now);
                Ticket heavier = null;
                for (Ticket h : holders) {
                    if (h.asked || h.share.recentNanos(now) - nextUse < sliceNanos) continue;
                    long held = now - h.heldSinceNanos;
                    if (held >= sliceNanos / 4) {
                        heavier = h;
                        break;
                    }
                    untilNext = Math.min(untilNext, sliceNanos / 4 - held);
                }
                if (heavier == null) break;
                heavier.preempt(now);
                unserved--;
            }
            return waiting == 0 ? -1 : untilNext;
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
            for (Share s : turns) for (Ticket t : s.queue) t.granted.signal();
        } finally {
            lock.unlock();
        }
        if (slicer != null) slicer.interrupt();
    }

    // ---- under the lock ----

    /**
     * One function's part of the slots: its waiters, its holds, and the slot time it used, decayed: {@code usedNanos}
     * as of {@code usedAtNanos}, plus the time its current holders have held their slots so far.
     */
    private static final class Share {
        final String function;
        final ArrayDeque<Ticket> queue = new ArrayDeque<>();
        int holding;
        /** The sum of the grant times of its current holders: their time so far is {@code holding * now - this}. */
        long holdingSinceSum;
        double usedNanos;
        long usedAtNanos;

        Share(String function, long now) {
            this.function = function;
            this.usedAtNanos = now;
        }

        double recentNanos(long now) {
            // In longs: clock values may be anywhere, and the wrapped difference is exact while it fits.
            return decayedUse(now) + (holding * now - holdingSinceSum);
        }

        double decayedUse(long now) {
            return usedNanos * Math.exp(-USAGE_DECAY_PER_NANO * (now - usedAtNanos));
        }

        void charge(long heldNanos, long now) {
            usedNanos = decayedUse(now) + heldNanos;
            usedAtNanos = now;
        }

        boolean idle() {
            return queue.isEmpty() && holding == 0;
        }
    }

    private Share share(String function, long now) {
        return shares.computeIfAbsent(function, f -> new Share(f, now));
    }

    /** The function with waiters that used the slots the least lately; the first in turn among equals. */
    private Share lightestWaiting(long now) {
        Share lightest = null;
        double least = Double.MAX_VALUE;
        for (Share s : turns) {
            double use = s.recentNanos(now);
            if (use < least) {
                least = use;
                lightest = s;
            }
        }
        return lightest;
    }

    private void enqueue(Ticket t) {
        Share s = t.share;
        if (s.queue.isEmpty()) turns.addLast(s);
        s.queue.addLast(t);
        t.queued = true;
        waiting++;
        someoneWaits.signal();
    }

    private void dequeue(Ticket t) {
        Share s = t.share;
        s.queue.remove(t);
        t.queued = false;
        waiting--;
        if (s.queue.isEmpty()) turns.remove(s);
    }

    /** Gives free slots to the waiting functions, the lightest first, each its first waiter. */
    private void grantWaiters(long now) {
        while (holders.size() < slots && !turns.isEmpty()) {
            Share s = lightestWaiting(now);
            turns.remove(s);
            Ticket next = s.queue.pollFirst();
            next.queued = false;
            waiting--;
            if (!s.queue.isEmpty()) turns.addLast(s);
            grant(next, now);
        }
    }

    private void grant(Ticket t, long now) {
        t.heldSinceNanos = now;
        t.share.holding++;
        t.share.holdingSinceSum += now;
        holders.add(t);
        t.held = true;
        t.granted.signal();
    }

    /** Forgets, at most once per half-life, the functions that hold and wait for nothing and used next to nothing lately. */
    private void forgetIdle(long now) {
        if (now - forgottenAtNanos < TimeUnit.MILLISECONDS.toNanos(USAGE_HALF_LIFE_MILLIS)) return;
        forgottenAtNanos = now;
        shares.values().removeIf(s -> s.idle() && s.decayedUse(now) < FORGOTTEN_BELOW_NANOS);
    }

    /**
     * One run of a function's VM on the run slots: {@link #acquire()} before the VM runs, and closed after. In between,
     * the VM's run loop uses it as its {@link CpuLease}.
     */
    final class Ticket implements CpuLease, AutoCloseable {
        private final String function;
        private final Condition granted = lock.newCondition();
        /**
         * Read by the run loop at every exit, written under the lock: it holds a slot; it was asked to give it back
         * (preempted while no run loop ran its guest).
         */
        private volatile boolean held, asked;
        private volatile Runnable kick;
        /** Its function's share while it waits or holds a slot. */
        private Share share;
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
                if (takeFreeSlot()) return true;
                enqueue(this);
                // Preempt at once what is due for this waiter, on this thread: waking the slicer for it first would
                // cost a second thread's scheduling delay on a busy host.
                preemptExpired();
                try {
                    while (!held && !closed) {
                        if (!queued) {
                            // It was given a slot and preempted before this thread ran (on a busy host, a quarter
                            // slice can pass): it queues again.
                            if (takeFreeSlot()) break;
                            enqueue(this);
                        }
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

        /** Under the lock: takes a free slot if one is free and nobody waits for one. */
        private boolean takeFreeSlot() {
            long now = clock.getAsLong();
            share = share(function, now);
            if (!turns.isEmpty() || holders.size() >= slots) return false;
            grant(this, now);
            return true;
        }

        /** Gives the slot back, if held (a preempted ticket's was taken already), to the next waiter. */
        @Override
        public void release() {
            lock.lock();
            try {
                if (!held) return;
                long now = clock.getAsLong();
                giveBack(now);
                grantWaiters(now);
                forgetIdle(now);
            } finally {
                lock.unlock();
            }
        }

        /** Under the lock: the slot is no longer this ticket's, and its time is charged to its function. */
        private void giveBack(long now) {
            held = false;
            asked = false;
            holders.remove(this);
            share.holding--;
            share.holdingSinceSum -= heldSinceNanos;
            share.charge(now - heldSinceNanos, now);
        }

        /**
         * True when the run loop must wait for a slot before it enters the guest: it holds none (never had one, gave it
         * back, or was preempted), or it was asked to give its slot back.
         */
        @Override
        public boolean preempted() {
            return !held || asked;
        }

        @Override
        public void running(Runnable kick) {
            this.kick = kick;
        }

        /**
         * Under the lock: while its run loop runs the guest, takes the slot back and gives it to the next waiter, then
         * kicks the vCPU out of the guest (after {@link #held} says why, as {@link CpuLease#running} asks); otherwise
         * asks for the slot, which the run loop gives back where it begins.
         */
        private void preempt(long now) {
            preemptions++;
            Runnable k = kick;
            if (k == null) {
                asked = true;
                return;
            }
            giveBack(now);
            grantWaiters(now);
            k.run();
        }

        /** Gives the slot back, if held. */
        @Override
        public void close() {
            release();
        }
    }
}
