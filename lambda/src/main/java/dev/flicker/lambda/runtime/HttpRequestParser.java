package dev.flicker.lambda.runtime;

import dev.flicker.guest.HostMemoryBudget;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The server side of HTTP/1.1 message framing (RFC 9112) for one connection, incrementally: {@link #feed}
 * takes the bytes the client sent, {@link #next} returns each complete request. It knows nothing of what the
 * requests mean (that is {@link RuntimeApi}'s), so it can be tested and fuzzed alone.
 *
 * <p>Everything it reads is untrusted, so it is strict and bounded:
 * <ul>
 *   <li>Bytes are parsed where they lie, by offsets, and each byte is looked at a bounded number of times:
 *   the work is linear in the input however it is split or pipelined.</li>
 *   <li>It buffers at most {@link #RECEIVE_WINDOW_BYTES} of unparsed input, like a socket's receive buffer:
 *   {@link #feed} takes no more until {@link #next} has consumed some. A body is moved out of that window
 *   into its own array as it arrives, up to the body limit.</li>
 *   <li>Every buffer is counted in the VM's {@link HostMemoryBudget}; when that refuses, the parser takes no
 *   more input ({@link #starved()}) until memory is given back, and nothing is lost.</li>
 *   <li>Malformed input is a {@link ParseError} with the status to answer (400, 413, 431, 501, 505) and
 *   nothing else; after one the parser takes no more input: the framing is lost, so the connection closes.</li>
 * </ul>
 * Lines end with CRLF only: a bare CR or LF, a NUL or another control character in the head, a space before a
 * field's colon, a folded line, conflicting lengths, or both {@code Content-Length} and
 * {@code Transfer-Encoding} are errors (they are how requests get smuggled past a proxy).
 */
public final class HttpRequestParser {
    /** The request line and header fields together (and, separately, the trailer fields of a chunked body). */
    public static final int MAX_HEAD_BYTES = 64 * 1024;
    public static final int MAX_FIELDS = 128;
    /** Unparsed input kept at most; a head must fit in it. */
    public static final int RECEIVE_WINDOW_BYTES = MAX_HEAD_BYTES;
    /** A chunk-size line with its extensions. */
    static final int MAX_CHUNK_LINE_BYTES = 4096;
    /** Enough for a runtime's request heads (a few hundred bytes); a longer head doubles it. */
    private static final int INITIAL_BUFFER_BYTES = 1024;
    private static final byte[] EMPTY = new byte[0];

    /** A request's header field, as sent (the name keeps its case). */
    public record Field(String name, String value) {}

    /** One complete request. */
    public record Request(String method, String target, int minorVersion, List<Field> fields, byte[] body) {
        /** The first value of the field {@code name} (case-insensitive), or null. */
        public String field(String name) {
            for (Field f : fields) if (f.name().equalsIgnoreCase(name)) return f.value();
            return null;
        }

        /** Whether the client keeps the connection open after this request (RFC 9112 section 9.3). */
        public boolean keepAlive() {
            boolean close = false, keepAlive = false;
            for (Field f : fields) {
                if (!f.name().equalsIgnoreCase("Connection")) continue;
                for (String option : f.value().split(",")) {
                    close |= option.strip().equalsIgnoreCase("close");
                    keepAlive |= option.strip().equalsIgnoreCase("keep-alive");
                }
            }
            return !close && (minorVersion >= 1 || keepAlive);
        }
    }

    /** Input that is not HTTP/1.1 as this server accepts it; {@code status} is the answer to give. */
    public static final class ParseError extends Exception {
        private final int status;

        public ParseError(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    private enum State { HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS }

    private final HostMemoryBudget budget;
    private final int maxBodyBytes;

    /** Unparsed input is {@code in[inStart, inEnd)}; the array's length is what the budget counts. */
    private byte[] in = EMPTY;
    private int inStart, inEnd;
    /** Bytes from {@code inStart} already searched for the end of the current head or line. */
    private int scanned;
    /** Bytes searched, split into lines or moved so far: the parser's work, linear in its input (tests count it). */
    private long workBytes;
    private State state = State.HEAD;
    private ParseError failure;
    private boolean starved;

    private String method, target;
    private int minorVersion;
    private List<Field> fields;
    private byte[] body = EMPTY;
    private int bodyLength;
    /** Bytes of the body (a Content-Length body) or of the current chunk still to come. */
    private long remaining;
    private int trailerBytes, trailerFields;

    /** A parser whose buffers count against {@code budget} and whose bodies may have up to {@code maxBodyBytes}. */
    public HttpRequestParser(HostMemoryBudget budget, int maxBodyBytes) {
        this.budget = budget;
        this.maxBodyBytes = maxBodyBytes;
    }

    /**
     * Takes up to {@code length} bytes; returns how many it took: fewer when the receive window is full (until
     * {@link #next} consumes some), when the budget refuses more buffer ({@link #starved()}), and none after a
     * {@link ParseError}.
     */
    public int feed(byte[] bytes, int offset, int length) {
        return feed(MemorySegment.ofArray(bytes).asSlice(offset, length));
    }

    /** {@link #feed(byte[], int, int)} from a segment (the guest's memory, read in place): only what is taken is copied. */
    public int feed(MemorySegment bytes) {
        int length = (int) Math.min(bytes.byteSize(), Integer.MAX_VALUE);
        if (failure != null || length <= 0) return 0;
        int buffered = inEnd - inStart;
        int wanted = Math.min(length, RECEIVE_WINDOW_BYTES - buffered);
        if (wanted <= 0) return 0;
        if (inEnd + wanted > in.length) {
            if (inStart > 0) { // compact: at most one window of bytes moves
                System.arraycopy(in, inStart, in, 0, buffered);
                workBytes += buffered;
                inStart = 0;
                inEnd = buffered;
            }
            // Grow only when unparsed bytes fill the buffer: a head longer than it. Otherwise take what fits and
            // let the caller parse it first; a flood of short requests then never costs more than one small buffer.
            if (inEnd == in.length) grow(inEnd + 1);
            wanted = Math.min(wanted, in.length - inEnd);
            if (wanted == 0) return 0;
        }
        MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, 0, in, inEnd, wanted);
        inEnd += wanted;
        return wanted;
    }

    /** Grows the input buffer to hold {@code needed} bytes (doubling, within the window) as far as the budget allows. */
    private void grow(int needed) {
        int capacity = growth(in.length, needed, RECEIVE_WINDOW_BYTES);
        if (capacity <= in.length) {
            starved = true;
            return;
        }
        starved = false;
        in = Arrays.copyOf(in, capacity);
    }

    /**
     * The capacity to grow an array of {@code length} to, for {@code needed} bytes and never past {@code limit}:
     * double, or else whatever the budget has left, charged here; {@code length} itself when the budget refuses
     * even a part. Taking the rest at once (not each write's few bytes) keeps the copying linear near the limit.
     */
    private int growth(int length, long needed, long limit) {
        int doubled = (int) Math.min(limit, Math.max(needed, Math.max(INITIAL_BUFFER_BYTES, 2L * length)));
        if (budget.tryCharge(doubled - length)) return doubled;
        int rest = (int) Math.min(limit, length + budget.availableBytes());
        if (rest <= length || !budget.tryCharge(rest - length)) return length;
        return rest;
    }

    /**
     * The next complete request, or null when more input is needed (or the budget refuses room for its body:
     * then {@link #starved()}). A malformed request throws, and so does every later call.
     */
    public Request next() throws ParseError {
        if (failure != null) throw failure;
        try {
            while (true) {
                boolean progressed = switch (state) {
                    case HEAD -> head();
                    case BODY -> body();
                    case CHUNK_SIZE -> chunkSize();
                    case CHUNK_DATA -> chunkData();
                    case CHUNK_END -> chunkEnd();
                    case TRAILERS -> trailers();
                };
                if (!progressed) {
                    if (inStart == inEnd) inStart = inEnd = 0; // drained: reuse the buffer from its start
                    return null;
                }
                if (state == State.HEAD && method != null) return complete();
            }
        } catch (ParseError e) {
            failure = e;
            releaseBuffers();
            throw e;
        }
    }

    /** True when the parser could not grow a buffer within the budget: it takes no more input until it can. */
    public boolean starved() {
        return starved;
    }

    /** Input taken but not yet consumed by a request. */
    public int bufferedBytes() {
        return inEnd - inStart;
    }

    /** True between requests: no part of a request has been consumed yet (a snapshot can keep the raw bytes). */
    public boolean atRequestBoundary() {
        return state == State.HEAD && failure == null;
    }

    /** The unparsed input, for a snapshot. */
    public byte[] bufferedInput() {
        return Arrays.copyOfRange(in, inStart, inEnd);
    }

    /** Gives every buffer back to the budget; the parser takes no more input. */
    public void close() {
        if (failure == null) failure = new ParseError(400, "connection closed");
        releaseBuffers();
    }

    private void releaseBuffers() {
        budget.release(in.length);
        in = EMPTY;
        inStart = inEnd = 0;
        budget.release(body.length);
        body = EMPTY;
        bodyLength = 0;
    }

    /** Bytes searched, split into lines or moved since this parser was made (tests check that it stays linear). */
    long workBytes() {
        return workBytes;
    }

    // ---- the head: request line and header fields ----

    private boolean head() throws ParseError {
        // A server should ignore empty lines before a request line (RFC 9112 section 2.2); a request line
        // never starts with CR, so a CRLF there is always one of them.
        while (inEnd - inStart >= 2 && in[inStart] == '\r' && in[inStart + 1] == '\n') {
            inStart += 2;
            scanned = 0;
        }
        int end = find4(inStart + Math.max(0, scanned - 3));
        if (end < 0) {
            scanned = inEnd - inStart;
            // The window holds a whole head: full without one, it never will.
            if (scanned >= MAX_HEAD_BYTES) throw new ParseError(431, "request head over " + MAX_HEAD_BYTES + " bytes");
            return false;
        }
        if (end + 4 - inStart > MAX_HEAD_BYTES) throw new ParseError(431, "request head over " + MAX_HEAD_BYTES + " bytes");
        List<int[]> lines = lines(inStart, end);
        parseRequestLine(lines.getFirst()[0], lines.getFirst()[1]);
        if (lines.size() - 1 > MAX_FIELDS) throw new ParseError(431, "more than " + MAX_FIELDS + " header fields");
        List<Field> parsed = new ArrayList<>(lines.size() - 1);
        for (int i = 1; i < lines.size(); i++) parsed.add(parseField(lines.get(i)[0], lines.get(i)[1]));
        fields = parsed;
        inStart = end + 4;
        scanned = 0;
        startBody();
        return true;
    }

    /** The first CRLFCRLF at or after {@code from}, or -1. */
    private int find4(int from) {
        int start = Math.max(from, inStart);
        for (int i = start; i + 3 < inEnd; i++) {
            if (in[i + 3] != '\n') continue; // most bytes are not a line feed: one comparison each
            if (in[i] == '\r' && in[i + 1] == '\n' && in[i + 2] == '\r') {
                workBytes += i + 4 - start;
                return i;
            }
        }
        workBytes += Math.max(0, inEnd - start);
        return -1;
    }

    /** The first CRLF at or after {@code from}, or -1. */
    private int find2(int from) {
        int start = Math.max(from, inStart);
        for (int i = start; i + 1 < inEnd; i++) {
            if (in[i] == '\r' && in[i + 1] == '\n') {
                workBytes += i + 2 - start;
                return i;
            }
        }
        workBytes += Math.max(0, inEnd - start);
        return -1;
    }

    /** Splits {@code in[start, end)} at each CRLF; a lone CR or LF inside is an error. */
    private List<int[]> lines(int start, int end) throws ParseError {
        workBytes += end - start;
        List<int[]> lines = new ArrayList<>();
        int lineStart = start;
        for (int i = start; i < end; i++) {
            byte b = in[i];
            if (b == '\r' && i + 1 < end && in[i + 1] == '\n') {
                lines.add(new int[] {lineStart, i});
                lineStart = i + 2;
                i++;
            } else if (b == '\r' || b == '\n') {
                throw new ParseError(400, "bare CR or LF in the request head");
            }
        }
        lines.add(new int[] {lineStart, end});
        return lines;
    }

    private void parseRequestLine(int start, int end) throws ParseError {
        int sp1 = indexOf((byte) ' ', start, end);
        int sp2 = sp1 < 0 ? -1 : indexOf((byte) ' ', sp1 + 1, end);
        if (sp1 <= start || sp2 <= sp1 + 1 || indexOf((byte) ' ', sp2 + 1, end) >= 0) {
            throw new ParseError(400, "bad request line");
        }
        for (int i = start; i < sp1; i++) if (!isTchar(in[i])) throw new ParseError(400, "bad method");
        for (int i = sp1 + 1; i < sp2; i++) {
            if (in[i] < 0x21 || in[i] > 0x7e) throw new ParseError(400, "bad request target");
        }
        if (end - (sp2 + 1) != 8 || !ascii(sp2 + 1, 5).equals("HTTP/") || !isDigit(in[sp2 + 6]) || in[sp2 + 7] != '.'
                || !isDigit(in[sp2 + 8])) {
            throw new ParseError(400, "bad HTTP version");
        }
        if (in[sp2 + 6] != '1') throw new ParseError(505, "only HTTP/1.x is served");
        method = ascii(start, sp1 - start);
        target = ascii(sp1 + 1, sp2 - sp1 - 1);
        minorVersion = in[sp2 + 8] - '0';
    }

    private Field parseField(int start, int end) throws ParseError {
        if (start < end && (in[start] == ' ' || in[start] == '\t')) throw new ParseError(400, "folded header line");
        int colon = indexOf((byte) ':', start, end);
        if (colon <= start) throw new ParseError(400, "bad header line");
        for (int i = start; i < colon; i++) if (!isTchar(in[i])) throw new ParseError(400, "bad header name");
        int vs = colon + 1, ve = end;
        while (vs < ve && (in[vs] == ' ' || in[vs] == '\t')) vs++;
        while (ve > vs && (in[ve - 1] == ' ' || in[ve - 1] == '\t')) ve--;
        for (int i = vs; i < ve; i++) {
            int c = in[i] & 0xff;
            if ((c < 0x20 && c != '\t') || c == 0x7f) throw new ParseError(400, "control character in a header value");
        }
        return new Field(ascii(start, colon - start), new String(in, vs, ve - vs, StandardCharsets.ISO_8859_1));
    }

    // ---- the body ----

    /** Decides the body's framing from the fields (RFC 9112 section 6.3). */
    private void startBody() throws ParseError {
        String transferEncoding = null;
        long contentLength = -1;
        for (Field f : fields) {
            if (f.name().equalsIgnoreCase("Transfer-Encoding")) {
                transferEncoding = transferEncoding == null ? f.value() : transferEncoding + "," + f.value();
            } else if (f.name().equalsIgnoreCase("Content-Length")) {
                long n = parseContentLength(f.value());
                if (contentLength >= 0 && n != contentLength) throw new ParseError(400, "conflicting Content-Length");
                contentLength = n;
            }
        }
        if (transferEncoding != null) {
            if (contentLength >= 0) throw new ParseError(400, "both Transfer-Encoding and Content-Length");
            if (minorVersion == 0) throw new ParseError(400, "Transfer-Encoding in an HTTP/1.0 request");
            if (!transferEncoding.strip().equalsIgnoreCase("chunked")) {
                throw new ParseError(501, "only the chunked transfer coding is served");
            }
            state = State.CHUNK_SIZE;
        } else if (contentLength > 0) {
            remaining = contentLength;
            state = State.BODY;
        } else {
            state = State.HEAD; // no body: the request is complete
        }
    }

    private long parseContentLength(String value) throws ParseError {
        if (value.isEmpty()) throw new ParseError(400, "bad Content-Length");
        long n = 0;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < '0' || c > '9') throw new ParseError(400, "bad Content-Length");
            n = n * 10 + (c - '0');
            if (n > maxBodyBytes) throw new ParseError(413, "body over " + maxBodyBytes + " bytes");
        }
        return n;
    }

    private boolean body() {
        int moved = moveToBody(remaining);
        remaining -= moved;
        if (remaining == 0) {
            state = State.HEAD;
            return true;
        }
        return moved > 0;
    }

    private boolean chunkSize() throws ParseError {
        int end = find2(inStart + Math.max(0, scanned - 1));
        if (end < 0) {
            scanned = inEnd - inStart;
            if (scanned > MAX_CHUNK_LINE_BYTES) throw new ParseError(400, "chunk-size line too long");
            return false;
        }
        if (end - inStart > MAX_CHUNK_LINE_BYTES) throw new ParseError(400, "chunk-size line too long");
        long size = 0;
        int i = inStart, digits = 0;
        for (; i < end && hexValue(in[i]) >= 0; i++, digits++) {
            size = size * 16 + hexValue(in[i]);
            if (size > maxBodyBytes) throw new ParseError(413, "body over " + maxBodyBytes + " bytes");
        }
        if (digits == 0) throw new ParseError(400, "bad chunk size");
        while (i < end && (in[i] == ' ' || in[i] == '\t')) i++;
        if (i < end && in[i] != ';') throw new ParseError(400, "bad chunk size");
        for (; i < end; i++) { // chunk extensions are ignored, but must be text
            int c = in[i] & 0xff;
            if ((c < 0x20 && c != '\t') || c == 0x7f) throw new ParseError(400, "control character in a chunk extension");
        }
        if (bodyLength + size > maxBodyBytes) throw new ParseError(413, "body over " + maxBodyBytes + " bytes");
        inStart = end + 2;
        scanned = 0;
        if (size == 0) {
            trailerBytes = 0;
            trailerFields = 0;
            state = State.TRAILERS;
        } else {
            remaining = size;
            state = State.CHUNK_DATA;
        }
        return true;
    }

    private boolean chunkData() {
        int moved = moveToBody(remaining);
        remaining -= moved;
        if (remaining == 0) {
            state = State.CHUNK_END;
            return true;
        }
        return moved > 0;
    }

    private boolean chunkEnd() throws ParseError {
        if (inEnd - inStart < 2) {
            if (inEnd > inStart && in[inStart] != '\r') throw new ParseError(400, "chunk data longer than its size");
            return false;
        }
        if (in[inStart] != '\r' || in[inStart + 1] != '\n') throw new ParseError(400, "chunk data longer than its size");
        inStart += 2;
        state = State.CHUNK_SIZE;
        return true;
    }

    /** Trailer fields end a chunked body; they are checked like header fields and then ignored. */
    private boolean trailers() throws ParseError {
        int end = find2(inStart + Math.max(0, scanned - 1));
        if (end < 0) {
            // Without a CRLF, a line feed among the new bytes is a bare one: an error now, not at the window's end.
            if (indexOf((byte) '\n', inStart + scanned, inEnd) >= 0) throw new ParseError(400, "bare LF in the trailer fields");
            scanned = inEnd - inStart;
            if (trailerBytes + scanned >= MAX_HEAD_BYTES) throw new ParseError(431, "trailer fields over " + MAX_HEAD_BYTES + " bytes");
            return false;
        }
        int length = end - inStart;
        trailerBytes += length + 2;
        if (trailerBytes > MAX_HEAD_BYTES) throw new ParseError(431, "trailer fields over " + MAX_HEAD_BYTES + " bytes");
        if (length > 0) {
            parseField(inStart, end); // a CR or LF inside is a control character there
            if (++trailerFields > MAX_FIELDS) throw new ParseError(431, "more than " + MAX_FIELDS + " trailer fields");
        }
        inStart = end + 2;
        scanned = 0;
        if (length == 0) state = State.HEAD;
        return true;
    }

    /** Moves up to {@code wanted} buffered bytes into the body; fewer if the budget refuses the room. */
    private int moveToBody(long wanted) {
        int n = (int) Math.min(wanted, inEnd - inStart);
        if (n == 0) return 0;
        if (bodyLength + n > body.length) {
            // A Content-Length body grows to exactly its length at most; a chunked one to the body limit.
            long limit = state == State.BODY ? bodyLength + remaining : maxBodyBytes;
            int capacity = growth(body.length, bodyLength + (long) n, limit);
            if (capacity == body.length) {
                starved = true;
                return 0;
            }
            starved = false;
            body = Arrays.copyOf(body, capacity);
            n = Math.min(n, capacity - bodyLength);
        }
        System.arraycopy(in, inStart, body, bodyLength, n);
        bodyLength += n;
        inStart += n;
        return n;
    }

    /** Hands out the request just parsed and resets for the next one; the body's room goes back to the budget. */
    private Request complete() {
        byte[] b = bodyLength == body.length ? body : Arrays.copyOf(body, bodyLength);
        budget.release(body.length);
        Request r = new Request(method, target, minorVersion, fields, b);
        method = target = null;
        fields = null;
        body = EMPTY;
        bodyLength = 0;
        remaining = 0;
        return r;
    }

    // ---- bytes ----

    private int indexOf(byte b, int from, int to) {
        for (int i = from; i < to; i++) if (in[i] == b) return i;
        return -1;
    }

    private String ascii(int from, int length) {
        return new String(in, from, length, StandardCharsets.ISO_8859_1);
    }

    private static boolean isDigit(byte b) {
        return b >= '0' && b <= '9';
    }

    private static int hexValue(byte b) {
        if (b >= '0' && b <= '9') return b - '0';
        if (b >= 'a' && b <= 'f') return b - 'a' + 10;
        if (b >= 'A' && b <= 'F') return b - 'A' + 10;
        return -1;
    }

    /** RFC 9110 section 5.6.2: the characters of a token (methods, field names). */
    private static boolean isTchar(byte b) {
        if (b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z') return true;
        return b > 0 && "!#$%&'*+-.^_`|~".indexOf(b) >= 0;
    }
}
