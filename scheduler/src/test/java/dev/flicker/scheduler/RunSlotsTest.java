package dev.flicker.scheduler;

import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The run slots' order and slicing, with a fake clock and no VM: who gets a slot next (by what each function used
 * lately, then in turn), who is preempted and when, and that a waiter gets the slot a preempted VM gave back. No test
 * asserts a duration.
 */
class RunSlotsTest {
    static final long SLICE_NANOS = 10_000_000;
    final AtomicLong clock = new AtomicLong();
    final List<String> granted = Collections.synchronizedList(new ArrayList<>());
    final List<Waiter> waiters = new ArrayList<>();

    @AfterEach
    void releaseEveryone() {
        waiters.forEach(w -> w.release.countDown());
    }

    /** A thread that waits for a slot for {@code function}, notes {@code name} once it holds one, and gives it back when told. */
    final class Waiter {
        final RunSlots.Ticket ticket;
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicBoolean refused = new AtomicBoolean();
        final Thread thread;

        Waiter(RunSlots slots, String function, String name) {
            int before = slots.figures().waiting();
            ticket = slots.ticket(function);
            thread = Thread.ofPlatform().name(name).start(() -> {
                if (!ticket.acquire()) {
                    refused.set(true);
                    return;
                }
                granted.add(name);
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                ticket.release();
            });
            waiters.add(this);
            // Arrival order is the test's input: the next waiter comes only once this one queued (or got a slot).
            TestTime.await(name + " queued", Duration.ofSeconds(10),
                    () -> slots.figures().waiting() == before + 1 || granted.contains(name));
        }
    }

    RunSlots slots(int count) {
        return new RunSlots(count, SLICE_NANOS, clock::get);
    }

    void awaitGranted(int count) {
        TestTime.await(count + " grants", Duration.ofSeconds(10), () -> granted.size() >= count);
    }

    @Test
    void aFreeSlotIsTakenAtOnceAndEachGivenBackOnce() {
        RunSlots slots = slots(2);
        RunSlots.Ticket a = slots.ticket("a"), b = slots.ticket("b");
        assertTrue(a.acquire());
        assertTrue(b.acquire());
        assertEquals(new RunSlots.Figures(2, 2, 0, 0), slots.figures());
        assertFalse(a.preempted(), "a holder is not asked to give its slot back while nobody waits");
        a.release();
        a.release(); // twice is once
        assertTrue(a.preempted(), "without a slot, the run loop must wait for one before it enters the guest");
        assertEquals(1, slots.figures().running());
        b.close();
        assertEquals(0, slots.figures().running());
    }

    @Test
    void waitersAreServedInTurnAcrossFunctionsAndInArrivalOrderWithinOne() {
        RunSlots slots = slots(1);
        RunSlots.Ticket holder = slots.ticket("a");
        assertTrue(holder.acquire());
        List<Waiter> arrivals = List.of(new Waiter(slots, "a", "a1"), new Waiter(slots, "a", "a2"), new Waiter(slots, "a", "a3"),
                new Waiter(slots, "b", "b1"), new Waiter(slots, "c", "c1"));
        holder.release();
        for (int served = 1; served <= arrivals.size(); served++) {
            awaitGranted(served);
            String name = granted.get(served - 1);
            arrivals.stream().filter(w -> w.thread.getName().equals(name)).findFirst().orElseThrow().release.countDown();
        }
        assertEquals(List.of("a1", "b1", "c1", "a2", "a3"), granted,
                "function a's three waiters, queued first, do not keep b and c waiting behind all of them");
    }

    @Test
    void aFunctionThatUsedLessLatelyGoesBeforeOneThatQueuedFirst() {
        RunSlots slots = slots(1);
        RunSlots.Ticket earlier = slots.ticket("spin");
        assertTrue(earlier.acquire());
        clock.addAndGet(3 * SLICE_NANOS); // nobody waits: it keeps the slot
        earlier.release();
        RunSlots.Ticket spinner = slots.ticket("spin");
        assertTrue(spinner.acquire()); // a fresh slice, with three used lately
        new Waiter(slots, "spin", "spin-again");
        new Waiter(slots, "light", "light");
        spinner.release();
        awaitGranted(1);
        assertEquals(List.of("light"), granted, "the spinner's function used three slices lately, the light one nothing");
    }

    @Test
    void aLightWaiterTakesAHeavyHoldersSlotOnceItHadAQuarterSlice() {
        RunSlots slots = slots(1);
        RunSlots.Ticket earlier = slots.ticket("spin");
        assertTrue(earlier.acquire());
        clock.addAndGet(3 * SLICE_NANOS);
        earlier.release();
        RunSlots.Ticket spinner = slots.ticket("spin");
        assertTrue(spinner.acquire()); // a fresh slice, with three used lately
        AtomicInteger kicks = new AtomicInteger();
        spinner.running(kicks::incrementAndGet);

        clock.addAndGet(SLICE_NANOS / 10);
        new Waiter(slots, "light", "light");
        assertEquals(SLICE_NANOS / 4 - SLICE_NANOS / 10, slots.preemptExpired(), "the slicer looks again when a quarter slice is over");
        assertFalse(spinner.preempted(), "a holder keeps its slot for a quarter slice at least");
        clock.addAndGet(SLICE_NANOS / 4 - SLICE_NANOS / 10);
        slots.preemptExpired();
        assertTrue(spinner.preempted(), "the light function does not wait for the spinner's slice to end");
        assertEquals(1, kicks.get());
        spinner.release();
        awaitGranted(1);
        assertEquals(List.of("light"), granted);
    }

    @Test
    void aWaiterThatUsedAboutAsMuchWaitsForTheEndOfTheSlice() {
        RunSlots slots = slots(1);
        for (String function : List.of("a", "b")) {
            RunSlots.Ticket t = slots.ticket(function);
            assertTrue(t.acquire());
            clock.addAndGet(3 * SLICE_NANOS);
            t.release();
        }
        RunSlots.Ticket holder = slots.ticket("a");
        assertTrue(holder.acquire());
        new Waiter(slots, "b", "b");
        clock.addAndGet(SLICE_NANOS / 2);
        slots.preemptExpired();
        assertFalse(holder.preempted(), "b used as much as a lately: a keeps its whole slice");
        clock.addAndGet(SLICE_NANOS / 2);
        slots.preemptExpired();
        assertTrue(holder.preempted());
    }

    @Test
    void pastUseIsHalvedEveryHalfLife() {
        RunSlots slots = slots(1);
        RunSlots.Ticket spinner = slots.ticket("spin");
        assertTrue(spinner.acquire());
        clock.addAndGet(10 * SLICE_NANOS);
        assertEquals(10 * SLICE_NANOS, slots.recentUseNanos("spin"), 1, "a hold counts while it lasts");
        spinner.release();
        clock.addAndGet(TimeUnit.MILLISECONDS.toNanos(RunSlots.USAGE_HALF_LIFE_MILLIS));
        assertEquals(5 * SLICE_NANOS, slots.recentUseNanos("spin"), 1000);
        clock.addAndGet(20 * TimeUnit.MILLISECONDS.toNanos(RunSlots.USAGE_HALF_LIFE_MILLIS));
        assertEquals(0, slots.recentUseNanos("spin"), 1000, "long ago is as good as never");
    }

    @Test
    void aHolderWhoseSliceIsOverIsPreemptedWhenAnotherComesAndOnlyThen() {
        RunSlots slots = slots(1);
        RunSlots.Ticket spinner = slots.ticket("spin");
        AtomicInteger kicks = new AtomicInteger();
        assertTrue(spinner.acquire());
        spinner.running(kicks::incrementAndGet);

        clock.addAndGet(5 * SLICE_NANOS);
        assertEquals(-1, slots.preemptExpired(), "nobody waits: no slice ends");
        assertFalse(spinner.preempted());

        Waiter victim = new Waiter(slots, "victim", "victim"); // it preempts the spinner as it queues
        assertTrue(spinner.preempted(), "a waiter came and the spinner's slice is over");
        assertEquals(1, kicks.get(), "its vCPU is kicked out of the guest");
        assertEquals(1, slots.figures().preemptions());

        // The victim has the slot already: it does not wait for the kicked thread to run and give it back.
        awaitGranted(1);
        assertEquals(List.of("victim"), granted);
        assertEquals(1, slots.figures().running());
        spinner.release(); // its run loop, once it runs: nothing to give back
        assertEquals(1, slots.figures().running());
        // The spinner queues to go on later.
        Waiter resumed = new Waiter(slots, "spin", "spin-again");
        resumed.ticket.running(kicks::incrementAndGet);
        victim.release.countDown();
        awaitGranted(2);
        assertEquals(List.of("victim", "spin-again"), granted);
        assertEquals(1, kicks.get(), "nobody waits now: the resumed spinner is not kicked");
    }

    @Test
    void aWaiterGivenASlotAndPreemptedBeforeItsThreadRanQueuesAgain() {
        RunSlots slots = slots(1);
        RunSlots.Ticket holder = slots.ticket("h");
        assertTrue(holder.acquire());
        Waiter late = new Waiter(slots, "w", "late");
        late.ticket.running(() -> {}); // a run loop that waits for its slot again
        RunSlots.Ticket other = slots.ticket("x");
        // Holding the slots' lock keeps the waiter's thread from seeing its grant until the grant is taken back again.
        slots.lock.lock();
        try {
            holder.release(); // the waiter gets the slot...
            clock.addAndGet(2 * SLICE_NANOS);
            assertTrue(other.acquire(System.nanoTime()), "...and another, coming after its slice, takes it at once");
            assertTrue(late.ticket.preempted());
        } finally {
            slots.lock.unlock();
        }
        TestTime.await("the preempted waiter queued again", Duration.ofSeconds(10), () -> slots.figures().waiting() == 1);
        other.release();
        awaitGranted(1);
        assertEquals(List.of("late"), granted, "it got a slot in the end: it was not lost between the two");
    }

    @Test
    void aHolderThatRunsNoGuestIsAskedAndKeepsItsSlotUntilItGivesItBack() {
        RunSlots slots = slots(1);
        RunSlots.Ticket restoring = slots.ticket("a"); // restoring its VM: no run loop, nothing a kick stops
        assertTrue(restoring.acquire());
        clock.addAndGet(2 * SLICE_NANOS);
        new Waiter(slots, "b", "b");
        assertTrue(restoring.preempted(), "asked to give its slot back");
        assertEquals(1, slots.figures().running(), "it keeps the slot meanwhile: the slots bound what runs");
        assertEquals(List.of(), granted);
        slots.preemptExpired();
        assertEquals(1, slots.figures().preemptions(), "asked once, not again while the waiter waits for that slot");
        restoring.release(); // where its run loop begins
        awaitGranted(1);
        assertEquals(List.of("b"), granted);
    }

    @Test
    void aHolderIsNotPreemptedForWaitersOfItsOwnFunction() {
        RunSlots slots = slots(1);
        RunSlots.Ticket first = slots.ticket("f");
        assertTrue(first.acquire());
        first.running(() -> {}); // its run loop runs the guest: a preemption hands its slot over at once
        clock.addAndGet(5 * SLICE_NANOS);
        Waiter second = new Waiter(slots, "f", "f-2");
        slots.preemptExpired();
        assertFalse(first.preempted(), "one function's invocations run first come, first served");
        assertEquals(0, slots.figures().preemptions());

        new Waiter(slots, "g", "g"); // another function: the slice counts now
        assertTrue(first.preempted());
        awaitGranted(1);
        assertEquals(List.of("g"), granted, "the slot goes to the other function, which used less");
        assertEquals(1, slots.figures().waiting(), "f-2 still waits");
        second.release.countDown();
    }

    @Test
    void aFreshHolderKeepsItsSliceAndTheNextCheckIsWhenItEnds() {
        RunSlots slots = slots(1);
        RunSlots.Ticket holder = slots.ticket("h");
        assertTrue(holder.acquire());
        clock.addAndGet(SLICE_NANOS / 4);
        new Waiter(slots, "w", "w");
        assertEquals(SLICE_NANOS * 3 / 4, slots.preemptExpired(), "the slicer looks again when the holder's slice ends");
        assertFalse(holder.preempted());
        clock.addAndGet(SLICE_NANOS * 3 / 4);
        slots.preemptExpired();
        assertTrue(holder.preempted());
    }

    @Test
    void asManyHoldersArePreemptedAsWaitOldestFirst() {
        RunSlots slots = slots(2);
        RunSlots.Ticket older = slots.ticket("a"), newer = slots.ticket("b");
        assertTrue(older.acquire());
        clock.addAndGet(SLICE_NANOS / 2);
        assertTrue(newer.acquire());
        clock.addAndGet(3 * SLICE_NANOS); // both slices are over
        new Waiter(slots, "c", "c");
        slots.preemptExpired();
        slots.preemptExpired(); // again: the one waiter is already promised a slot
        assertTrue(older.preempted());
        assertFalse(newer.preempted(), "one waiter needs one slot");
        assertEquals(1, slots.figures().preemptions());
        older.release();
        awaitGranted(1);
        assertEquals(List.of("c"), granted);
    }

    @Test
    void aWaitEndsAtItsDeadlineWithoutTheSlotAndLeavesTheQueue() {
        RunSlots slots = slots(1);
        RunSlots.Ticket holder = slots.ticket("h"), late = slots.ticket("late");
        assertTrue(holder.acquire());
        assertFalse(late.acquire(System.nanoTime() + 1_000_000), "the deadline came before a slot");
        assertTrue(late.preempted(), "a run loop that gets this answer must not enter the guest");
        assertEquals(0, slots.figures().waiting());
        clock.addAndGet(10 * SLICE_NANOS);
        assertEquals(-1, slots.preemptExpired(), "nobody waits any more, so nobody is preempted");
        holder.release();
        assertTrue(late.acquire(System.nanoTime() + 1_000_000_000L), "a free slot is taken at once");
    }

    @Test
    void closingRefusesEveryWaiter() {
        RunSlots slots = slots(1);
        RunSlots.Ticket holder = slots.ticket("h");
        assertTrue(holder.acquire());
        Waiter w = new Waiter(slots, "w", "w");
        slots.close();
        TestTime.await("the waiter refused", Duration.ofSeconds(10), w.refused::get);
        assertFalse(slots.ticket("x").acquire(), "nothing is lent once closed");
        assertEquals(List.of(), granted);
    }
}
