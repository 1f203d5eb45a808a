package dev.flicker.lambda.runtime;

import dev.flicker.guest.HostMemoryBudget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The HTTP/1.1 request framing alone: valid requests however they are split, and every kind of bad input. */
class HttpRequestParserTest {
    static final int MAX_BODY = 1 << 20;

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** Feeds everything (consuming requests as they complete) and returns the requests, or throws the parse error. */
    static List<HttpRequestParser.Request> parseAll(HttpRequestParser p, byte[] input, int pieceBytes)
            throws HttpRequestParser.ParseError {
        List<HttpRequestParser.Request> requests = new ArrayList<>();
        int at = 0;
        while (true) {
            for (HttpRequestParser.Request r; (r = p.next()) != null; ) requests.add(r);
            if (at == input.length) return requests;
            int n = p.feed(input, at, Math.min(pieceBytes, input.length - at));
            // Never stuck: input is taken, or the parser has failed (next throws) or is out of memory.
            if (n == 0) {
                p.next();
                assertTrue(p.starved(), "the parser took nothing and made no progress");
                return requests;
            }
            at += n;
        }
    }

    static HttpRequestParser parser() {
        return new HttpRequestParser(new HostMemoryBudget(64L << 20), MAX_BODY);
    }

    @Test
    void aRequestWithFieldsAndABody() throws Exception {
        HttpRequestParser p = parser();
        var rs = parseAll(p, bytes("POST /a/b?x=1 HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\nX-Thing:  padded value \t\r\n\r\nhello"), 1 << 16);
        assertEquals(1, rs.size());
        var r = rs.getFirst();
        assertEquals("POST", r.method());
        assertEquals("/a/b?x=1", r.target());
        assertEquals(1, r.minorVersion());
        assertEquals("padded value", r.field("x-thing"));
        assertEquals("5", r.field("Content-Length"));
        assertNull(r.field("Missing"));
        assertArrayEquals(bytes("hello"), r.body());
        assertTrue(r.keepAlive());
        assertEquals(0, p.bufferedBytes());
    }

    @Test
    void everySplitOfPipelinedRequestsGivesTheSameRequests() throws Exception {
        String text = "\r\nGET /one HTTP/1.1\r\n\r\n"
                + "POST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                + "POST /three HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nTrailer: t\r\n\r\n"
                + "GET /four HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        byte[] input = bytes(text);
        for (int piece = 1; piece <= input.length; piece++) {
            HttpRequestParser p = parser();
            var rs = parseAll(p, input, piece);
            assertEquals(4, rs.size(), "pieces of " + piece);
            assertEquals("/one", rs.get(0).target());
            assertArrayEquals(bytes("abc"), rs.get(1).body());
            assertArrayEquals(bytes("wikipedia"), rs.get(2).body());
            assertEquals("/four", rs.get(3).target());
            assertTrue(rs.get(3).keepAlive(), "HTTP/1.0 with keep-alive");
        }
    }

    @Test
    void connectionCloseAndHttp10EndTheConnection() throws Exception {
        var rs = parseAll(parser(), bytes("GET / HTTP/1.1\r\nConnection: Upgrade, close\r\n\r\nGET / HTTP/1.0\r\n\r\n"), 100);
        assertFalse(rs.get(0).keepAlive());
        assertFalse(rs.get(1).keepAlive());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "A / HTTP/1.\\r\\n\\r\\n | 400",
            "GET / HTTP/2.0\\r\\n\\r\\n | 505",
            "GET / HTTP/1.10\\r\\n\\r\\n | 400",
            "GET  / HTTP/1.1\\r\\n\\r\\n | 400",
            "GET / HTTP/1.1 \\r\\n\\r\\n | 400",
            "GET /\\u0001 HTTP/1.1\\r\\n\\r\\n | 400",
            "G(T / HTTP/1.1\\r\\n\\r\\n | 400",
            "GET / HTTP/1.1\\nHost: x\\r\\n\\r\\n | 400",
            "GET / HTTP/1.1\\r\\nHost: x\\ry\\r\\n\\r\\n | 400",
            "GET / HTTP/1.1\\r\\nHost : x\\r\\n\\r\\n | 400",
            "GET / HTTP/1.1\\r\\nA: 1\\r\\n folded\\r\\n\\r\\n | 400",
            "GET / HTTP/1.1\\r\\nNoColon\\r\\n\\r\\n | 400",
            "GET / HTTP/1.1\\r\\n: empty name\\r\\n\\r\\n | 400",
            "GET / HTTP/1.1\\r\\nA: nul\\u0000byte\\r\\n\\r\\n | 400",
            "GET / HTTP/1.1\\r\\nA: del\\u007fbyte\\r\\n\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nContent-Length: -5\\r\\n\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nContent-Length: +5\\r\\n\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nContent-Length: 5, 5\\r\\n\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nContent-Length:\\r\\n\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nContent-Length: 1\\r\\nContent-Length: 2\\r\\n\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nContent-Length: 99999999999999999999999\\r\\n\\r\\n | 413",
            "POST / HTTP/1.1\\r\\nContent-Length: 1048577\\r\\n\\r\\n | 413",
            "POST / HTTP/1.1\\r\\nContent-Length: 1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nTransfer-Encoding: gzip, chunked\\r\\n\\r\\n | 501",
            "POST / HTTP/1.0\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nzz\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5x\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nFFFFFFFFFFFFFFFFFFFF\\r\\n | 413",
            "POST / HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n100001\\r\\n | 413",
            "POST / HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n2\\r\\nabc\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n1;\\u0000\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\nBad Trailer: x\\r\\n\\r\\n | 400",
            "POST / HTTP/1.1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\nT: x\\ny\\r\\n\\r\\n | 400"})
    void malformedRequestsAreAParseErrorWithTheirStatus(String escaped, int status) {
        byte[] input = bytes(unescape(escaped.strip()));
        for (int piece : new int[] {1, 7, input.length}) {
            HttpRequestParser p = parser();
            var e = assertThrows(HttpRequestParser.ParseError.class, () -> parseAll(p, input, piece), escaped);
            assertEquals(status, e.status(), e.getMessage());
            // The framing is lost: nothing more is taken, and the error stays.
            assertEquals(0, p.feed(bytes("GET / HTTP/1.1\r\n\r\n"), 0, 18));
            assertThrows(HttpRequestParser.ParseError.class, p::next);
        }
    }

    @Test
    void headsAndFieldCountsAreBounded() {
        String longField = "GET / HTTP/1.1\r\nX: " + "a".repeat(HttpRequestParser.MAX_HEAD_BYTES) + "\r\n\r\n";
        var e = assertThrows(HttpRequestParser.ParseError.class, () -> parseAll(parser(), bytes(longField), 4096));
        assertEquals(431, e.status());
        String noEnd = "GET / HTTP/1.1\r\n" + "X: y\n".repeat(20_000);
        assertEquals(431, assertThrows(HttpRequestParser.ParseError.class, () -> parseAll(parser(), bytes(noEnd), 999)).status());
        String manyFields = "GET / HTTP/1.1\r\n" + "X: y\r\n".repeat(HttpRequestParser.MAX_FIELDS + 1) + "\r\n";
        assertEquals(431, assertThrows(HttpRequestParser.ParseError.class, () -> parseAll(parser(), bytes(manyFields), 999)).status());
        String manyTrailers = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + "T: y\r\n".repeat(HttpRequestParser.MAX_FIELDS + 1) + "\r\n";
        assertEquals(431, assertThrows(HttpRequestParser.ParseError.class, () -> parseAll(parser(), bytes(manyTrailers), 999)).status());
    }

    @Test
    void aHeadOfExactlyTheLimitIsAccepted() throws Exception {
        String start = "GET / HTTP/1.1\r\nX: ";
        String head = start + "a".repeat(HttpRequestParser.MAX_HEAD_BYTES - start.length() - 4) + "\r\n\r\n";
        assertEquals(HttpRequestParser.MAX_HEAD_BYTES, head.length());
        assertEquals(1, parseAll(parser(), bytes(head), 1000).size());
    }

    @Test
    void unparsedInputStopsAtTheReceiveWindow() throws Exception {
        HttpRequestParser p = parser();
        byte[] flood = bytes("GET / HTTP/1.1\r\n\r\n".repeat(10_000));
        int taken = 0;
        for (int n; (n = p.feed(flood, taken, flood.length - taken)) > 0; ) taken += n; // the buffer grows as it fills
        assertEquals(HttpRequestParser.RECEIVE_WINDOW_BYTES, taken);
        assertEquals("/", p.next().target()); // consuming one request makes room for one more
        assertEquals(18, p.feed(flood, taken, flood.length - taken));
    }

    /**
     * A client that sends many short requests at once is parsed from a small buffer: it grows only when a head does
     * not fit (issue 9: a guest's flood of requests on new connections made each connection's buffer the window's
     * 64 KiB, and the host's garbage collector paid for it).
     */
    @Test
    void theBufferGrowsOnlyWhenUnparsedBytesFillIt() throws Exception {
        HttpRequestParser p = parser();
        byte[] flood = bytes("GET / HTTP/1.1\r\n\r\n".repeat(10_000));
        int taken = p.feed(flood, 0, flood.length);
        assertTrue(taken > 0 && taken <= 1024, taken + " bytes taken");
        int served = 0;
        while (p.next() != null) served++;
        assertEquals(taken / 18, served);

        byte[] longHead = bytes("GET / HTTP/1.1\r\nX-Long: " + "v".repeat(20_000) + "\r\n\r\n");
        HttpRequestParser q = parser();
        int at = 0;
        for (int n; (n = q.feed(longHead, at, longHead.length - at)) > 0; ) at += n;
        assertEquals(longHead.length, at);
        assertEquals("v".repeat(20_000), q.next().field("X-Long"));
    }

    @Test
    void aBodyMovesOutOfTheWindowAsItArrives() throws Exception {
        HttpRequestParser p = parser();
        byte[] head = bytes("POST / HTTP/1.1\r\nContent-Length: " + MAX_BODY + "\r\n\r\n");
        assertEquals(head.length, p.feed(head, 0, head.length));
        byte[] piece = new byte[50_000];
        for (int sent = 0; sent < MAX_BODY; ) {
            int n = p.feed(piece, 0, Math.min(piece.length, MAX_BODY - sent));
            assertTrue(n > 0, "the window never fills while a body is read");
            sent += n;
            if (sent < MAX_BODY) assertNull(p.next());
        }
        assertEquals(MAX_BODY, p.next().body().length);
    }

    @Test
    void buffersAreCountedInTheBudgetAndGivenBack() throws Exception {
        HostMemoryBudget budget = new HostMemoryBudget(256 * 1024);
        HttpRequestParser p = new HttpRequestParser(budget, MAX_BODY);
        byte[] head = bytes("POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n");
        p.feed(head, 0, head.length);
        byte[] piece = new byte[4096];
        int sent = 0;
        while (true) {
            int n = p.feed(piece, 0, piece.length);
            assertNull(p.next());
            if (n == 0) break;
            sent += n;
        }
        assertTrue(p.starved(), "refused by the budget, not by the window");
        assertTrue(budget.usedBytes() <= budget.limitBytes(), budget.usedBytes() + " counted");
        assertTrue(sent > 100_000 && sent <= 256 * 1024, sent + " bytes taken");
        p.close();
        assertEquals(0, budget.usedBytes());
    }

    @Test
    void aCompleteRequestGivesItsBodysRoomBack() throws Exception {
        HostMemoryBudget budget = new HostMemoryBudget(8L << 20);
        HttpRequestParser p = new HttpRequestParser(budget, MAX_BODY);
        var rs = parseAll(p, bytes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), 5);
        assertArrayEquals(bytes("abc"), rs.getFirst().body());
        long input = budget.usedBytes();
        assertTrue(input <= HttpRequestParser.RECEIVE_WINDOW_BYTES, "only the input buffer stays counted: " + input);
        p.close();
        assertEquals(0, budget.usedBytes());
    }

    /**
     * Fuzz: random bytes, and valid requests with random damage, split at random points. Only requests and
     * ParseErrors come out; the parser never stops taking input without a reason; the budget balances.
     */
    @Test
    void randomAndDamagedInputOnlyEverGivesRequestsOrParseErrors() {
        Random random = new Random(20240901);
        String[] seeds = {
                "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\r\n",
                "POST /2018-06-01/runtime/invocation/id/response HTTP/1.1\r\nContent-Length: 11\r\n\r\n{\"a\":\"bc\"}\n",
                "POST /2018-06-01/runtime/invocation/id/error HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: X.Y\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n"};
        for (int round = 0; round < 20_000; round++) {
            byte[] input;
            if (round % 4 == 0) {
                input = new byte[random.nextInt(300)];
                random.nextBytes(input);
            } else {
                StringBuilder text = new StringBuilder();
                for (int k = random.nextInt(4); k >= 0; k--) text.append(seeds[random.nextInt(seeds.length)]);
                input = damage(bytes(text.toString()), random);
            }
            HostMemoryBudget budget = new HostMemoryBudget(1L << 20);
            HttpRequestParser p = new HttpRequestParser(budget, 64 * 1024);
            int piece = 1 + random.nextInt(64);
            try {
                parseAll(p, input, piece);
            } catch (HttpRequestParser.ParseError e) {
                assertTrue(List.of(400, 413, 431, 501, 505).contains(e.status()), e.status() + " " + e.getMessage());
            } catch (RuntimeException | AssertionError e) {
                throw new AssertionError("round " + round + " piece " + piece + " input "
                        + new String(input, StandardCharsets.ISO_8859_1).replace("\r", "\\r").replace("\n", "\\n"), e);
            }
            p.close();
            assertEquals(0, budget.usedBytes(), "round " + round);
        }
    }

    /** Flips, inserts, deletes or duplicates a few bytes, preferring the ones that matter to framing. */
    static byte[] damage(byte[] input, Random random) {
        byte[] interesting = bytes("\r\n :;0123456789abcdefABCDEF\u0000\u007f\u0080\t-+,");
        List<Byte> out = new ArrayList<>();
        for (byte b : input) out.add(b);
        for (int k = random.nextInt(4); k >= 0 && !out.isEmpty(); k--) {
            int at = random.nextInt(out.size());
            byte b = random.nextBoolean() ? interesting[random.nextInt(interesting.length)] : (byte) random.nextInt(256);
            switch (random.nextInt(4)) {
                case 0 -> out.set(at, b);
                case 1 -> out.add(at, b);
                case 2 -> out.remove(at);
                default -> out.addAll(at, out.subList(at, Math.min(out.size(), at + random.nextInt(40))).stream().toList());
            }
        }
        byte[] result = new byte[out.size()];
        for (int i = 0; i < result.length; i++) result[i] = out.get(i);
        return result;
    }

    static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                b.append(c);
                continue;
            }
            char n = s.charAt(++i);
            switch (n) {
                case 'r' -> b.append('\r');
                case 'n' -> b.append('\n');
                case 'u' -> {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                default -> b.append(n);
            }
        }
        return b.toString();
    }
}
