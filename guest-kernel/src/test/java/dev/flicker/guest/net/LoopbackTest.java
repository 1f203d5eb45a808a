package dev.flicker.guest.net;

import dev.flicker.guest.HostMemoryBudget;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The loopback network's part of a snapshot: its sockets, their connections' state, and the endpoints it was given. */
class LoopbackTest {
    private static final int PORT = 7000, LOOPBACK = 0x7f000001;

    private static byte[] saved(Loopback net) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        net.save(new DataOutputStream(bytes));
        return bytes.toByteArray();
    }

    private static void load(Loopback net, byte[] bytes) throws IOException {
        net.load(new DataInputStream(new ByteArrayInputStream(bytes)));
    }

    @Test
    void socketsAndTheirConnectionsLoadAsSaved() throws IOException {
        Loopback net = new Loopback(new HostMemoryBudget(1 << 20), List.of(EchoEndpoint.spec(PORT)));
        LoopbackSocket idle = net.socket(0);
        LoopbackSocket connected = net.socket(0);
        connected.connected(net.connect(LOOPBACK, PORT), PORT);
        assertEquals(5, connected.connection().write("hello".getBytes(), 0, 5));
        assertEquals(1, net.indexOf(connected));

        HostMemoryBudget budget = new HostMemoryBudget(1 << 20);
        Loopback restored = new Loopback(budget, List.of(EchoEndpoint.spec(PORT)));
        load(restored, saved(net));
        assertEquals(2, restored.openSockets());
        assertNull(restored.socketAt(0).connection(), "still not connected: " + idle);
        assertEquals(PORT, restored.socketAt(1).peerPort());
        assertEquals(5, restored.socketAt(1).connection().available(), "the unread bytes are there");
        assertTrue(budget.usedBytes() >= 2 * 1024 + 5, "sockets and bytes are counted again: " + budget.usedBytes());
        assertThrows(IOException.class, () -> restored.socketAt(2));
    }

    @Test
    void aSnapshotOfOtherEndpointsOrAnotherLayoutIsRefused() throws IOException {
        Loopback net = new Loopback(new HostMemoryBudget(1 << 20), List.of(EchoEndpoint.spec(PORT)));
        net.socket(0).connected(net.connect(LOOPBACK, PORT), PORT);
        byte[] bytes = saved(net);

        IOException port = assertThrows(IOException.class,
                () -> load(new Loopback(new HostMemoryBudget(1 << 20), List.of(EchoEndpoint.spec(PORT + 1))), bytes));
        assertTrue(port.getMessage().contains("is not this VM's echo on port " + (PORT + 1)), port.getMessage());
        LoopbackEndpoint.Spec newer = new LoopbackEndpoint.Spec(PORT, "echo", 2, EchoEndpoint::new);
        IOException version = assertThrows(IOException.class,
                () -> load(new Loopback(new HostMemoryBudget(1 << 20), List.of(newer)), bytes));
        assertTrue(version.getMessage().contains("state version 1") && version.getMessage().contains("take a new snapshot"),
                version.getMessage());
        IOException none = assertThrows(IOException.class, () -> load(new Loopback(new HostMemoryBudget(1 << 20), List.of()), bytes));
        assertTrue(none.getMessage().contains("1 loopback endpoints, this VM has 0"), none.getMessage());

        byte[] layout = bytes.clone();
        layout[2 + "loopback".length() + 3] = (byte) (Loopback.STATE_VERSION + 1);
        IOException e = assertThrows(IOException.class,
                () -> load(new Loopback(new HostMemoryBudget(1 << 20), List.of(EchoEndpoint.spec(PORT))), layout));
        assertTrue(e.getMessage().contains("loopback state has layout version"), e.getMessage());
    }

    @Test
    void aReleasedSocketGivesItsPlaceAndRoomBack() {
        HostMemoryBudget budget = new HostMemoryBudget(1 << 20);
        Loopback net = new Loopback(budget, List.of());
        LoopbackSocket s = net.socket(0);
        assertEquals(1, net.openSockets());
        s.discard(); // no descriptor ever referred to it
        assertEquals(0, net.openSockets());
        assertEquals(0, budget.usedBytes());
        assertSame(null, net.connect(LOOPBACK, PORT), "no endpoint: refused");
    }
}
