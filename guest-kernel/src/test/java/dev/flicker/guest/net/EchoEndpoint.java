package dev.flicker.guest.net;

import dev.flicker.guest.HostMemoryBudget;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A loopback endpoint for tests of the guest kernel: a connection sends back what it receives, holding at most
 * {@link #WINDOW_BYTES} not yet read (then it takes no more: flow control), counted in the VM's budget. While
 * {@link #awaitEvent} is set, a connection with nothing to read waits for the event, as a Runtime API connection
 * waiting for {@code /next} does.
 */
public final class EchoEndpoint implements LoopbackEndpoint {
    public static final int WINDOW_BYTES = 64 * 1024;
    private final HostMemoryBudget budget;
    /** A reader that finds nothing waits for the event (the snapshot point) while this is set. */
    public boolean awaitEvent;

    public EchoEndpoint(HostMemoryBudget budget) {
        this.budget = budget;
    }

    /** The echo endpoint on {@code port}. */
    public static Spec spec(int port) {
        return new Spec(port, "echo", 1, EchoEndpoint::new);
    }

    private Echo last;

    @Override
    public Connection connect() {
        last = new Echo();
        return last;
    }

    /** Bytes from the host for the guest to read on the last connection made (an event arriving). */
    public void send(byte[] bytes) {
        last.unread = Arrays.copyOf(last.unread, last.unread.length + bytes.length);
        System.arraycopy(bytes, 0, last.unread, last.unread.length - bytes.length, bytes.length);
        budget.charge(bytes.length);
    }

    private final class Echo implements Connection {
        private byte[] unread = new byte[0];
        private boolean closed;

        @Override
        public int write(MemorySegment bytes) {
            int length = (int) bytes.byteSize();
            if (closed) return WRITE_CLOSED;
            int taken = Math.min(length, WINDOW_BYTES - unread.length);
            if (taken == 0 && length > 0) return WRITE_FULL;
            if (!budget.tryCharge(taken)) return WRITE_NO_MEMORY;
            byte[] grown = Arrays.copyOf(unread, unread.length + taken);
            MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, 0, grown, unread.length, taken);
            unread = grown;
            return taken;
        }

        @Override
        public int available() {
            return unread.length;
        }

        @Override
        public int read(byte[] into, int offset, int length) {
            int n = Math.min(length, unread.length);
            System.arraycopy(unread, 0, into, offset, n);
            unread = Arrays.copyOfRange(unread, n, unread.length);
            budget.release(n);
            return n;
        }

        @Override
        public boolean endOfStream() {
            return false;
        }

        @Override
        public boolean waitingForEvent() {
            return awaitEvent && unread.length == 0;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            budget.release(unread.length);
            unread = new byte[0];
        }

        @Override
        public void save(DataOutputStream out) throws IOException {
            out.writeInt(unread.length);
            out.write(unread);
        }

        @Override
        public void load(DataInputStream in) throws IOException {
            int n = in.readInt();
            if (n < 0 || n > WINDOW_BYTES) throw new IOException("bad echo state");
            byte[] bytes = in.readNBytes(n);
            if (bytes.length != n || write(bytes, 0, n) != n) throw new IOException("bad echo state");
        }
    }
}
