package dev.flicker.guest.runtime;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AWS Lambda's Runtime API (version 2018-06-01) as the host serves it to a micro guest over its loopback
 * socket {@code 127.0.0.1:9001}: {@code GET /runtime/invocation/next}, {@code POST .../{id}/response},
 * {@code POST .../{id}/error} and {@code POST /runtime/init/error}. One object per VM; a VM serves one
 * invocation, so a second {@code /next} after the response simply waits (the run loop stops there).
 * Everything the guest sends is untrusted: requests are bounded and malformed ones get a 400.
 */
public final class RuntimeApi {
    public static final int PORT = 9001;
    public static final int LOOPBACK = 0x7f000001;
    private static final int MAX_REQUEST_BYTES = 6 * 1024 * 1024 + 64 * 1024; // a 6 MB payload plus headers
    private static final String PREFIX = "/2018-06-01/runtime";
    private static final Pattern RESPONSE = Pattern.compile(PREFIX + "/invocation/([^/]+)/(response|error)");

    /** The invocation handed to the runtime. */
    public record Event(byte[] payload, String requestId, long deadlineEpochMillis, String functionArn, String traceId) {}

    private Event event;
    private boolean eventDelivered;
    private byte[] response;
    private byte[] error;
    private String errorType;
    private byte[] initError;
    private long answeredAtNanos;

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

    public Connection connect() {
        return new Connection();
    }

    /** One TCP connection from the guest: request bytes in, response bytes out, HTTP/1.1 keep-alive. */
    public final class Connection {
        private final ByteArrayOutputStream in = new ByteArrayOutputStream();
        private byte[] out = new byte[0];
        private int outPos;
        private boolean waitingForNext;
        private boolean broken;
        /**
         * The buffered size at which the pending request can be complete: writes below it are only buffered.
         * Without it every write of a large body, which runtimes send in small pieces, re-parsed the whole
         * buffer (quadratic in the body's size).
         */
        private int parseWhenSize;

        /** Bytes the guest wrote; complete requests are answered at once. Returns false if the connection is broken. */
        public boolean write(byte[] bytes, int offset, int length) {
            if (broken) return false;
            in.write(bytes, offset, length);
            if (in.size() > MAX_REQUEST_BYTES) {
                reply(413, "{\"errorMessage\":\"request too large\",\"errorType\":\"RequestTooLarge\"}", Map.of());
                broken = true;
                return true;
            }
            while (!waitingForNext && handleOneRequest()) {
                // keep answering pipelined requests
            }
            return true;
        }

        /** How many response bytes the guest can read now; delivers a waiting {@code /next} if the event is here. */
        public int available() {
            if (waitingForNext && event != null && !eventDelivered) {
                waitingForNext = false;
                deliverNext();
                while (handleOneRequest()) {
                    // requests pipelined behind /next
                }
            }
            return out.length - outPos;
        }

        /** True when the guest is waiting for {@code /next} and there is no event for it yet. */
        public boolean waitingForEvent() {
            return waitingForNext && (event == null || eventDelivered) && available() == 0;
        }

        public int read(byte[] into, int offset, int length) {
            int n = Math.min(length, available());
            System.arraycopy(out, outPos, into, offset, n);
            outPos += n;
            if (outPos == out.length) {
                out = new byte[0];
                outPos = 0;
            }
            return n;
        }

        /** The connection's state for a snapshot: waiting for {@code /next}, unread request and response bytes. */
        public void writeState(java.io.DataOutputStream o) throws java.io.IOException {
            o.writeBoolean(waitingForNext);
            byte[] pending = in.toByteArray();
            o.writeInt(pending.length);
            o.write(pending);
            o.writeInt(out.length - outPos);
            o.write(out, outPos, out.length - outPos);
        }

        /** Reads what {@link #writeState} wrote into this fresh connection. */
        public void readState(java.io.DataInputStream i) throws java.io.IOException {
            waitingForNext = i.readBoolean();
            int n = i.readInt();
            if (n < 0 || n > MAX_REQUEST_BYTES) throw new java.io.IOException("bad connection state");
            in.write(i.readNBytes(n));
            int m = i.readInt();
            if (m < 0 || m > MAX_REQUEST_BYTES) throw new java.io.IOException("bad connection state");
            out = i.readNBytes(m);
            outPos = 0;
        }

        private boolean handleOneRequest() {
            if (in.size() < parseWhenSize) return false;
            byte[] buf = in.toByteArray();
            int headerEnd = indexOf(buf, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            if (headerEnd < 0) {
                if (buf.length > 64 * 1024) badRequest("headers too long");
                else parseWhenSize = buf.length + 1;
                return false;
            }
            String head = new String(buf, 0, headerEnd, StandardCharsets.ISO_8859_1);
            String[] lines = head.split("\r\n");
            String[] requestLine = lines[0].split(" ");
            if (requestLine.length != 3 || !requestLine[2].startsWith("HTTP/1.")) return badRequest("bad request line");
            Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon <= 0) return badRequest("bad header line");
                headers.put(lines[i].substring(0, colon).trim(), lines[i].substring(colon + 1).trim());
            }
            int bodyStart = headerEnd + 4;
            byte[] body;
            int consumed;
            if ("chunked".equalsIgnoreCase(headers.getOrDefault("Transfer-Encoding", ""))) {
                ByteArrayOutputStream decoded = new ByteArrayOutputStream();
                int at = bodyStart;
                while (true) {
                    int lineEnd = indexOf(buf, "\r\n".getBytes(StandardCharsets.US_ASCII), at);
                    if (lineEnd < 0) {
                        parseWhenSize = buf.length + 1;
                        return false;
                    }
                    int size;
                    try {
                        size = Integer.parseInt(new String(buf, at, lineEnd - at, StandardCharsets.US_ASCII).split(";")[0].trim(), 16);
                    } catch (NumberFormatException e) {
                        return badRequest("bad chunk size");
                    }
                    if (size < 0 || size > MAX_REQUEST_BYTES) return badRequest("bad chunk size");
                    if (buf.length < lineEnd + 2 + size + 2) {
                        parseWhenSize = lineEnd + 2 + size + 2;
                        return false;
                    }
                    if (size == 0) {
                        consumed = lineEnd + 4;
                        break;
                    }
                    decoded.write(buf, lineEnd + 2, size);
                    at = lineEnd + 2 + size + 2;
                }
                body = decoded.toByteArray();
            } else {
                long length;
                try {
                    length = Long.parseLong(headers.getOrDefault("Content-Length", "0"));
                } catch (NumberFormatException e) {
                    return badRequest("bad Content-Length");
                }
                if (length < 0 || length > MAX_REQUEST_BYTES) return badRequest("bad Content-Length");
                if (buf.length < bodyStart + length) {
                    parseWhenSize = bodyStart + (int) length;
                    return false;
                }
                body = java.util.Arrays.copyOfRange(buf, bodyStart, bodyStart + (int) length);
                consumed = bodyStart + (int) length;
            }
            in.reset();
            in.write(buf, consumed, buf.length - consumed);
            parseWhenSize = 0;
            route(requestLine[0], requestLine[1], headers, body);
            return true;
        }

        private boolean badRequest(String why) {
            in.reset();
            parseWhenSize = 0;
            reply(400, "{\"errorMessage\":\"" + why + "\",\"errorType\":\"InvalidRequest\"}", Map.of());
            return false;
        }

        private void route(String method, String path, Map<String, String> headers, byte[] body) {
            String p = path.contains("?") ? path.substring(0, path.indexOf('?')) : path;
            if (p.equals(PREFIX + "/invocation/next")) {
                if (!method.equals("GET")) {
                    reply(405, "{\"errorMessage\":\"use GET\",\"errorType\":\"MethodNotAllowed\"}", Map.of());
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
                    reply(400, "{\"errorMessage\":\"unknown request id " + json(m.group(1)) + "\",\"errorType\":\"InvalidRequestID\"}", Map.of());
                } else if (answered()) {
                    reply(400, "{\"errorMessage\":\"already answered\",\"errorType\":\"InvalidStateTransition\"}", Map.of());
                } else if (m.group(2).equals("response")) {
                    response = body;
                    answeredAtNanos = System.nanoTime();
                    reply(202, "{\"status\":\"OK\"}", Map.of());
                } else {
                    error = body;
                    errorType = headers.getOrDefault("Lambda-Runtime-Function-Error-Type", "Unhandled");
                    answeredAtNanos = System.nanoTime();
                    reply(202, "{\"status\":\"OK\"}", Map.of());
                }
                return;
            }
            if (p.equals(PREFIX + "/init/error") && method.equals("POST")) {
                initError = body;
                errorType = headers.getOrDefault("Lambda-Runtime-Function-Error-Type", "Runtime.InitError");
                reply(202, "{\"status\":\"OK\"}", Map.of());
                return;
            }
            reply(404, "{\"errorMessage\":\"no such path " + json(p) + "\",\"errorType\":\"NotFound\"}", Map.of());
        }

        private void deliverNext() {
            eventDelivered = true;
            Map<String, String> h = new java.util.LinkedHashMap<>();
            h.put("Lambda-Runtime-Aws-Request-Id", event.requestId());
            h.put("Lambda-Runtime-Deadline-Ms", Long.toString(event.deadlineEpochMillis()));
            h.put("Lambda-Runtime-Invoked-Function-Arn", event.functionArn());
            h.put("Lambda-Runtime-Trace-Id", event.traceId());
            reply(200, event.payload(), h);
        }

        private void reply(int status, String body, Map<String, String> headers) {
            reply(status, body.getBytes(StandardCharsets.UTF_8), headers);
        }

        private void reply(int status, byte[] body, Map<String, String> headers) {
            StringBuilder b = new StringBuilder("HTTP/1.1 ").append(status).append(' ').append(reason(status)).append("\r\n");
            b.append("Content-Type: application/json\r\n");
            headers.forEach((k, v) -> b.append(k).append(": ").append(v).append("\r\n"));
            b.append("Content-Length: ").append(body.length).append("\r\n\r\n");
            byte[] head = b.toString().getBytes(StandardCharsets.ISO_8859_1);
            byte[] joined = new byte[out.length - outPos + head.length + body.length];
            System.arraycopy(out, outPos, joined, 0, out.length - outPos);
            System.arraycopy(head, 0, joined, out.length - outPos, head.length);
            System.arraycopy(body, 0, joined, out.length - outPos + head.length, body.length);
            out = joined;
            outPos = 0;
        }
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 202 -> "Accepted";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 413 -> "Payload Too Large";
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

    private static int indexOf(byte[] haystack, byte[] needle) {
        return indexOf(haystack, needle, 0);
    }

    private static int indexOf(byte[] haystack, byte[] needle, int from) {
        outer:
        for (int i = Math.max(0, from); i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}
