package dev.flicker.scheduler;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AdmissionTest {
    @Test
    void reservedFunctionsGetTheirSlotsAndNoMore() {
        Admission a = new Admission(10);
        a.reserve("r", 3);
        List<Admission.Permit> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) held.add(a.admit("r"));
        Admission.TooManyRequests e = assertThrows(Admission.TooManyRequests.class, () -> a.admit("r"));
        assertEquals("ReservedFunctionConcurrentInvocationLimitExceeded", e.reason());
        held.getFirst().close();
        held.getFirst().close(); // twice is once
        assertEquals(2, a.inFlight("r"));
        held.add(a.admit("r"));
        assertEquals(3, a.inFlight("r"));
    }

    @Test
    void unreservedFunctionsShareWhatIsLeft() {
        Admission a = new Admission(10);
        a.reserve("r", 4);
        List<Admission.Permit> held = new ArrayList<>();
        for (int i = 0; i < 6; i++) held.add(a.admit(i % 2 == 0 ? "x" : "y"));
        Admission.TooManyRequests e = assertThrows(Admission.TooManyRequests.class, () -> a.admit("z"));
        assertEquals("ConcurrentInvocationLimitExceeded", e.reason());
        // The reserved function is not affected by the others being at their limit.
        a.admit("r").close();
        held.getLast().close();
        a.admit("z");
    }

    @Test
    void inFlightTotalCountsEveryFunctionAndFallsWhenPermitsClose() {
        Admission a = new Admission(10);
        a.reserve("r", 2);
        Admission.Permit reserved = a.admit("r");
        Admission.Permit x1 = a.admit("x"), x2 = a.admit("x");
        assertEquals(3, a.inFlightTotal());
        x1.close();
        x1.close(); // twice is once
        reserved.close();
        assertEquals(1, a.inFlightTotal());
        x2.close();
        assertEquals(0, a.inFlightTotal());
    }

    @Test
    void reservationsMustLeaveRoomForEveryoneElse() {
        Admission a = new Admission(10);
        a.reserve("a", 5);
        assertThrows(IllegalArgumentException.class, () -> a.reserve("b", 5));
        a.reserve("b", 4);
        a.reserve("a", null);
        a.reserve("b", 9);
        assertThrows(IllegalArgumentException.class, () -> a.reserve("c", -1));
        assertThrows(IllegalArgumentException.class, () -> new Admission(0));
    }
}
