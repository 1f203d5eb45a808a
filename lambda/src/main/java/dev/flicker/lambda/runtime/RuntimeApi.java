package dev.flicker.lambda.runtime;

import dev.flicker.guest.HostMemoryBudget;
import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVm;
import dev.flicker.guest.net.LoopbackEndpoint;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AWS Lambda's Runtime API (version 2018-06-01) as the host serves it to a micro guest over its loopback
 * socket {@code 127.0.0.1:9001}: {@code GET /runtime/invocation/next}, {@code POST .../{id}/response},
 * {@code POST .../{id}/error} and {@code POST /runtime/init/error}. One object per VM; a VM serves one
 * invocation, so a second {@code /next} after the response simply waits (the run loop stops there).
 *
 * <p>Everything the guest sends is untrusted. The HTTP framing is {@link HttpRequestParser}'s; this class
 * routes the requests it returns. Each connection buffers a bounded amount (the parser's receive window, one
 * body, {@link #OUTPUT_CAP_BYTES} of unread answers), all of it counted in the VM's {@link HostMemoryBudget},
 * so a guest that writes and never reads is stopped by flow control, as by a real socket, not by the host
 * running out of memory.
 */
public final class RuntimeApi implements LoopbackEndpoint {
    public static final int PORT = 9001;
    /** The layout of what a connection saves for a snapshot ({@link Connection#save}). */
    public static final int STATE_VERSION = 1;
    /** What a VM that runs a Lambda runtime is given: the Runtime API on 127.0.0.1:9001, one per VM. */
    public static final LoopbackEndpoint.Spec ENDPOINT = new LoopbackEndpoint.Spec(PORT, "lambda-runtime-api",
            STATE_VERSION, RuntimeApi::new);
    /** Lambda's limit for a synchronous payload, which the response and error bodies share. */
    public static final int MAX_BODY_BYTES = 6 * 1024 * 1024;
    /**
     * Unread answers on one connection past which the server parses no more of its requests until the client
     * reads: an HTTP server stops reading a pipelining client that does not read its responses. One answer may
     * pass it (the event, up to the payload limit); error answers are a few hundred bytes.
     */
    public static final int OUTPUT_CAP_BYTES = 64 * 1024;
    /** The error type recorded when the runtime's {@code Lambda-Runtime-Function-Error-Type} is not a valid one. */
    public static final String INVALID_ERROR_TYPE = "Runtime.InvalidErrorType";
    private static final int MAX_ERROR_TYPE_CHARS = 128;

    private static final String PREFIX = "/2018-06-01/runtime";
    private static final Pattern RESPONSE = Pattern.compile(PREFIX + "/invocation/([^/]+)/(response|error)");
    private static final byte[] EMPTY = new byte[0];

    /** The invocation handed to the runtime. */
    public record Event(byte[] payload, String requestId, long deadlineEpochMillis, String functionArn, String traceId) {
        /** An event for {@code payload} with a fresh request id and trace id, for the function {@code functionArn}. */
        public static Event of(byte[] payload, String functionArn, long deadlineEpochMillis) {
            long seconds = System.currentTimeMillis() / 1000;
            String trace = "Root=1-" + Long.toHexString(seconds) + "-"
                    + UUID.randomUUID().toString().replace("-", "").substring(0, 24) + ";Sampled=0";
            return new Event(payload, UUID.randomUUID().toString(), deadlineEpochMillis, functionArn, trace);
        }
    }

    /** The Runtime API of {@code vm}, which must have been given {@link #ENDPOINT}. */
    public static RuntimeApi of(MicroVm vm) {
        if (!(vm.endpoint(PORT) instanceof RuntimeApi api)) {
            throw new IllegalStateException("this VM was not given the Lambda Runtime API on port " + PORT);
        }
        return api;
    }

    /**
     * Gives the runtime in {@code vm} its event: the Runtime API answers its pending {@code /next} with it, and a
     * program that reads its event on stdin gets the payload there. The VM answers the pending call.
     */
    public static void deliver(MicroVm vm, Event event) {
        of(vm).provide(event);
        vm.deliver(event.payload());
    }

    private final HostMemoryBudget budget;
    private Event event;
    private boolean eventDelivered;
    private byte[] response;
    private byte[] error;
    private String errorType;
    private byte[] initError;
    private long answeredAtNanos;

    /** The Runtime API of a VM whose host memory is counted in {@code budget}. */
    public RuntimeApi(HostMemoryBudget budget) {
        this.budget = budget;
    }

    /** With a budget of its own, the size the default limits give a VM (for tests and tools). */
    public RuntimeApi() {
        this(new HostMemoryBudget(Limits.DEFAULT.hostBudgetBytes()));
    }

    /** Makes {@code e} the answer to the runtime's pending or next {@code /next}. */
    public void provide(Event e) {
        this.event = e;
        this.eventDelivered = false;
    }

    public byte[] response() {
        return response;
    }

    public byte[] error() {
        return error;
    }

    /**
     * The error's type: the runtime's {@code Lambda-Runtime-Function-Error-Type} when it matches
     * {@code [A-Za-z0-9._-]{1,128}}, {@link #INVALID_ERROR_TYPE} when it does not, {@code Unhandled} (an
     * invocation error) or {@code Runtime.InitError} when it was absent.
     */
    public String errorType() {
        return errorType;
    }

    public byte[] initError() {
        return initError;
    }

    /** When ({@link System#nanoTime}) the runtime posted its response or error; 0 while it has not. */
    public long answeredAtNanos() {
        return answeredAtNanos;
    }

    /** True once the runtime posted a response or an error for the event. */
    public boolean answered() {
        return response != null || error != null;
    }

    @Override
    public Connection connect() {
        return new Connection();
    }

    /** The runtime's error type if it is one Flicker passes on (it ends up in headers and database columns). */
    static String errorType(String sent, String whenAbsent) {
        if (sent == null) return whenAbsent;
        if (sent.isEmpty() || sent.length() > MAX_ERROR_TYPE_CHARS) return INVALID_ERROR_TYPE;
        for (int i = 0; i < sent.length(); i++) {
            char c = sent.charAt(i);
            boolean ok = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-';
            if (!ok) return INVALID_ERROR_TYPE;
        }
        return sent;
    }

    /**
     * One TCP connection from the guest: request bytes in, response bytes out, HTTP/1.1 keep-alive and
     * pipelining. After a malformed request (answered 400 and the like, with {@code Connection: close}) or a
     * request that asks for it, the server closes its side: the answers can still be read, then the end of
     * the stream; writing is {@link #WRITE_CLOSED}.
     */
    public final class Connection implements LoopbackEndpoint.Connection {
        private final HttpRequestParser parser = new HttpRequestParser(budget, MAX_BODY_BYTES);
        /** Answers not yet read are {@code out[outStart, outEnd)}; the array's length is what the budget counts. */
        private byte[] out = EMPTY;
        private int outStart, outEnd;
        private boolean waitingForNext;
        /** The server reads no more requests from this connection. */
        private boolean inputShut;
        private boolean closed;

        /**
         * Bytes the guest wrote; complete requests are answered at once. Returns how many bytes were taken (a
         * partial write when the connection's buffers fill), or, when none were: {@link #WRITE_FULL} (the
         * server reads no more until the client reads its answers), {@link #WRITE_NO_MEMORY} (the VM's budget
         * is spent) or {@link #WRITE_CLOSED}.
         */
        @Override
        public int write(MemorySegment bytes) {
            if (inputShut) return WRITE_CLOSED;
            serve();
            int length = (int) Math.min(bytes.byteSize(), Integer.MAX_VALUE);
            int taken = 0;
            while (taken < length && !inputShut) {
                int n = parser.feed(bytes.asSlice(taken));
                if (n == 0) break;
                taken += n;
                serve();
            }
            if (taken > 0 || length == 0) return taken;
            if (inputShut) return WRITE_CLOSED;
            return parser.starved() ? WRITE_NO_MEMORY : WRITE_FULL;
        }

        /** The parser's work on this connection's requests so far ({@link HttpRequestParser#workBytes()}). */
        long parserWorkBytes() {
            return parser.workBytes();
        }

        /** How many response bytes the guest can read now; delivers a waiting {@code /next} if the event is here. */
        @Override
        public int available() {
            if (waitingForNext && event != null && !eventDelivered) {
                waitingForNext = false;
                deliverNext();
            }
            serve(); // requests pipelined behind /next, or held back until the client read its answers
            return outEnd - outStart;
        }

        /** True when the guest is waiting for {@code /next} and there is no event for it yet. */
        @Override
        public boolean waitingForEvent() {
            return waitingForNext && (event == null || eventDelivered) && available() == 0;
        }

        /** True when the server has closed its side and every answer has been read: a read gets 0. */
        @Override
        public boolean endOfStream() {
            return inputShut && !waitingForNext && available() == 0;
        }

        @Override
        public int read(byte[] into, int offset, int length) {
            int n = Math.min(length, available());
            System.arraycopy(out, outStart, into, offset, n);
            outStart += n;
            if (outStart == outEnd) {
                outStart = outEnd = 0;
                if (out.length > OUTPUT_CAP_BYTES) { // an event's worth: give it back rather than keep it
                    budget.release(out.length);
                    out = EMPTY;
                }
            }
            serve();
            return n;
        }

        /** The guest closed its socket: everything this connection holds goes back to the budget. */
        @Override
        public void close() {
            if (closed) return;
            closed = true;
            inputShut = true;
            parser.close();
            budget.release(out.length);
            out = EMPTY;
            outStart = outEnd = 0;
        }

        /**
         * The connection's state for a snapshot: waiting for {@code /next}, unparsed request bytes (-1 when the
         * server has closed its side) and unread response bytes. A request half received cannot be kept.
         */
        @Override
        public void save(java.io.DataOutputStream o) throws java.io.IOException {
            if (!inputShut && !parser.atRequestBoundary()) {
                throw new java.io.IOException("a Runtime API request is half received: cannot snapshot it");
            }
            o.writeBoolean(waitingForNext);
            if (inputShut) {
                o.writeInt(-1);
            } else {
                byte[] pending = parser.bufferedInput();
                o.writeInt(pending.length);
                o.write(pending);
            }
            o.writeInt(outEnd - outStart);
            o.write(out, outStart, outEnd - outStart);
        }

        /** Reads what {@link #save} wrote into this fresh connection. */
        @Override
        public void load(java.io.DataInputStream i) throws java.io.IOException {
            waitingForNext = i.readBoolean();
            int n = i.readInt();
            if (n < -1 || n > HttpRequestParser.RECEIVE_WINDOW_BYTES) throw new java.io.IOException("bad connection state");
            if (n == -1) {
                inputShut = true;
                parser.close();
            } else {
                byte[] pending = i.readNBytes(n);
                if (pending.length != n || parser.feed(pending, 0, n) != n) throw new java.io.IOException("bad connection state");
            }
            int m = i.readInt();
            if (m < 0 || m > MAX_BODY_BYTES + OUTPUT_CAP_BYTES) throw new java.io.IOException("bad connection state");
            byte[] unread = i.readNBytes(m);
            if (unread.length != m) throw new java.io.IOException("bad connection state");
            append(unread, EMPTY);
        }

        /** Answers the requests that are complete, while the client has room for the answers. */
        private void serve() {
            while (!inputShut && !waitingForNext && outEnd - outStart < OUTPUT_CAP_BYTES) {
                HttpRequestParser.Request r;
                try {
                    r = parser.next();
                } catch (HttpRequestParser.ParseError e) {
                    reply(e.status(), errorBody(e.getMessage(), "InvalidRequest"), Map.of(), true);
                    inputShut = true; // the framing is lost: the server closes the connection
                    return;
                }
                if (r == null) return;
                boolean last = !r.keepAlive();
                route(r, last);
                if (last) {
                    inputShut = true;
                    parser.close();
                }
            }
        }

        private void route(HttpRequestParser.Request r, boolean last) {
            String target = r.target();
            String p = target.contains("?") ? target.substring(0, target.indexOf('?')) : target;
            String method = r.method();
            if (p.equals(PREFIX + "/invocation/next")) {
                if (!method.equals("GET")) {
                    reply(405, errorBody("use GET", "MethodNotAllowed"), Map.of(), last);
                } else if (event != null && !eventDelivered) {
                    deliverNext();
                } else {
                    waitingForNext = true; // the run loop stops here until an event arrives
                }
                return;
            }
            Matcher m = RESPONSE.matcher(p);
            if (m.matches() && method.equals("POST")) {
                if (event == null || !eventDelivered || !m.group(1).equals(event.requestId())) {
                    reply(400, errorBody("unknown request id " + json(m.group(1)), "InvalidRequestID"), Map.of(), last);
                } else if (answered()) {
                    reply(400, errorBody("already answered", "InvalidStateTransition"), Map.of(), last);
                } else if (m.group(2).equals("response")) {
                    budget.charge(r.body().length); // kept for the VM's life: the invocation's answer
                    response = r.body();
                    answeredAtNanos = System.nanoTime();
                    reply(202, "{\"status\":\"OK\"}", Map.of(), last);
                } else {
                    budget.charge(r.body().length);
                    error = r.body();
                    errorType = errorType(r.field("Lambda-Runtime-Function-Error-Type"), "Unhandled");
                    answeredAtNanos = System.nanoTime();
                    reply(202, "{\"status\":\"OK\"}", Map.of(), last);
                }
                return;
            }
            if (p.equals(PREFIX + "/init/error") && method.equals("POST")) {
                if (initError != null) budget.release(initError.length);
                budget.charge(r.body().length);
                initError = r.body();
                errorType = errorType(r.field("Lambda-Runtime-Function-Error-Type"), "Runtime.InitError");
                reply(202, "{\"status\":\"OK\"}", Map.of(), last);
                return;
            }
            reply(404, errorBody("no such path " + json(p), "NotFound"), Map.of(), last);
        }

        private void deliverNext() {
            eventDelivered = true;
            Map<String, String> h = new LinkedHashMap<>();
            h.put("Lambda-Runtime-Aws-Request-Id", event.requestId());
            h.put("Lambda-Runtime-Deadline-Ms", Long.toString(event.deadlineEpochMillis()));
            h.put("Lambda-Runtime-Invoked-Function-Arn", event.functionArn());
            h.put("Lambda-Runtime-Trace-Id", event.traceId());
            // A /next that asked to close the connection is the last request on it (nothing after it is read).
            reply(200, event.payload(), h, inputShut);
        }

        private void reply(int status, String body, Map<String, String> headers, boolean last) {
            reply(status, body.getBytes(StandardCharsets.UTF_8), headers, last);
        }

        private void reply(int status, byte[] body, Map<String, String> headers, boolean last) {
            StringBuilder b = new StringBuilder("HTTP/1.1 ").append(status).append(' ').append(reason(status)).append("\r\n");
            b.append("Content-Type: application/json\r\n");
            headers.forEach((k, v) -> b.append(k).append(": ").append(v).append("\r\n"));
            if (last) b.append("Connection: close\r\n");
            b.append("Content-Length: ").append(body.length).append("\r\n\r\n");
            append(b.toString().getBytes(StandardCharsets.ISO_8859_1), body);
        }

        /**
         * Queues an answer. The server's own answers are bounded (the cap plus one answer), so they are counted
         * even past the budget rather than refused.
         */
        private void append(byte[] head, byte[] body) {
            int pending = outEnd - outStart, needed = head.length + body.length;
            if (outEnd + needed > out.length) {
                if (pending + needed <= out.length) {
                    System.arraycopy(out, outStart, out, 0, pending);
                } else {
                    // The first answer gets just its size: most connections carry one or two exchanges.
                    int capacity = (int) Math.min(Integer.MAX_VALUE - 16, Math.max((long) pending + needed, 2L * out.length));
                    byte[] grown = new byte[capacity];
                    System.arraycopy(out, outStart, grown, 0, pending);
                    budget.charge(capacity - out.length);
                    out = grown;
                }
                outStart = 0;
                outEnd = pending;
            }
            System.arraycopy(head, 0, out, outEnd, head.length);
            System.arraycopy(body, 0, out, outEnd + head.length, body.length);
            outEnd += needed;
        }
    }

    private static String errorBody(String message, String type) {
        return "{\"errorMessage\":\"" + message + "\",\"errorType\":\"" + type + "\"}";
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 202 -> "Accepted";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 413 -> "Content Too Large";
            case 431 -> "Request Header Fields Too Large";
            case 501 -> "Not Implemented";
            case 505 -> "HTTP Version Not Supported";
            default -> "Status";
        };
    }

    /** A guest-supplied string made safe inside a JSON string literal. */
    private static String json(String s) {
        String t = s.length() > 200 ? s.substring(0, 200) : s;
        StringBuilder b = new StringBuilder();
        for (char c : t.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else b.append(c < 0x20 || c > 0x7e ? '?' : c);
        }
        return b.toString();
    }
}
