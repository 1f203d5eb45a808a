package dev.flicker.guest.runtime;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Runtime API's HTTP handling, without a VM: what a runtime sends, byte by byte. */
class RuntimeApiTest {
    static final RuntimeApi.Event EVENT = new RuntimeApi.Event("{\"k\":1}".getBytes(StandardCharsets.UTF_8), "id-7",
            1_800_000_000_000L, "arn:aws:lambda:local:000000000000:function:f", "Root=1-2-3");

    static void send(RuntimeApi.Connection c, String text) {
        byte[] b = text.getBytes(StandardCharsets.ISO_8859_1);
        assertTrue(c.write(b, 0, b.length));
    }

    static String take(RuntimeApi.Connection c) {
        byte[] b = new byte[c.available()];
        c.read(b, 0, b.length);
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    @Test
    void nextWaitsForTheEventThenAnswersWithLambdaHeaders() {
        RuntimeApi api = new RuntimeApi();
        RuntimeApi.Connection c = api.connect();
        send(c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n");
        assertTrue(c.waitingForEvent());
        assertEquals(0, c.available());
        api.provide(EVENT);
        String reply = take(c);
        assertTrue(reply.startsWith("HTTP/1.1 200 OK\r\n"), reply);
        assertTrue(reply.contains("Lambda-Runtime-Aws-Request-Id: id-7\r\n"), reply);
        assertTrue(reply.contains("Lambda-Runtime-Deadline-Ms: 1800000000000\r\n"), reply);
        assertTrue(reply.contains("Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:local:000000000000:function:f\r\n"), reply);
        assertTrue(reply.contains("Lambda-Runtime-Trace-Id: Root=1-2-3\r\n"), reply);
        assertTrue(reply.endsWith("Content-Length: 7\r\n\r\n{\"k\":1}"), reply);
    }

    @Test
    void aLargeResponseInSmallWritesArrivesWhole() {
        RuntimeApi api = new RuntimeApi();
        api.provide(EVENT);
        RuntimeApi.Connection c = api.connect();
        send(c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n");
        take(c);
        byte[] body = new byte[5 * 1024 * 1024];
        for (int i = 0; i < body.length; i++) body[i] = (byte) ('a' + i % 26);
        send(c, "POST /2018-06-01/runtime/invocation/id-7/response HTTP/1.1\r\nContent-Length: " + body.length + "\r\n\r\n");
        for (int at = 0; at < body.length; at += 4096) {
            assertFalse(api.answered(), "answered before the whole body came");
            assertTrue(c.write(body, at, Math.min(4096, body.length - at)));
        }
        assertArrayEquals(body, api.response());
        assertTrue(take(c).startsWith("HTTP/1.1 202 Accepted"));
    }

    @Test
    void responseInPiecesAndChunkedIsRecordedOnce() {
        RuntimeApi api = new RuntimeApi();
        api.provide(EVENT);
        RuntimeApi.Connection c = api.connect();
        send(c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n");
        take(c);
        send(c, "POST /2018-06-01/runtime/invocation/id-7/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
        assertFalse(api.answered());
        send(c, "lo\r\n1\r\n!\r\n0\r\n\r\n");
        assertArrayEquals("hello!".getBytes(), api.response());
        assertTrue(take(c).startsWith("HTTP/1.1 202 Accepted"));
        send(c, "POST /2018-06-01/runtime/invocation/id-7/response HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
        assertTrue(take(c).contains("InvalidStateTransition"));
        assertArrayEquals("hello!".getBytes(), api.response());
    }

    @Test
    void errorsAndInitErrorsKeepTheirType() {
        RuntimeApi api = new RuntimeApi();
        api.provide(EVENT);
        RuntimeApi.Connection c = api.connect();
        send(c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n"
                + "POST /2018-06-01/runtime/invocation/id-7/error HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: Custom.Boom\r\n"
                + "Content-Length: 2\r\n\r\n{}");
        assertEquals("Custom.Boom", api.errorType());
        assertArrayEquals("{}".getBytes(), api.error());
        RuntimeApi init = new RuntimeApi();
        RuntimeApi.Connection i = init.connect();
        send(i, "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 4\r\n\r\nnope");
        assertArrayEquals("nope".getBytes(), init.initError());
        assertEquals("Runtime.InitError", init.errorType());
    }

    @Test
    void badRequestsGetAnErrorNotAnException() {
        RuntimeApi api = new RuntimeApi();
        api.provide(EVENT);
        RuntimeApi.Connection c = api.connect();
        send(c, "NONSENSE\r\n\r\n");
        assertTrue(take(c).startsWith("HTTP/1.1 400"));
        send(c, "POST /2018-06-01/runtime/invocation/other-id/response HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assertTrue(take(c).contains("InvalidRequestID"));
        send(c, "GET /2018-06-01/runtime/nowhere\" HTTP/1.1\r\n\r\n");
        String notFound = take(c);
        assertTrue(notFound.startsWith("HTTP/1.1 404") && notFound.contains("nowhere\\\""), notFound);
        send(c, "POST /x HTTP/1.1\r\nContent-Length: -5\r\n\r\n");
        assertTrue(take(c).startsWith("HTTP/1.1 400"));
        send(c, "POST /x HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n");
        assertTrue(take(c).startsWith("HTTP/1.1 400"));
        assertFalse(api.answered());
    }
}
