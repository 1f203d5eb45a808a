package dev.flicker.api;

import dev.flicker.testing.TestTime;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Who gets in (AuthFilter): the Host must name the platform; a short allow-list is open; operator pages need the
 * admin token; everything else a SigV4 signature, checked before the body is read. Raw requests, so that nothing
 * between the test and the platform normalises them.
 */
@QuarkusTest
class AccessTest {
    static int port() {
        return RestAssured.port;
    }

    static String localhost() {
        return "localhost:" + port();
    }

    static String token() {
        return io.quarkus.arc.Arc.container().instance(AdminAuth.class).get().token();
    }

    /** The SigV4 headers of a request, as raw header lines. */
    static List<String> signature(String method, String path, byte[] body, Instant at) {
        int q = path.indexOf('?');
        Map<String, String> signed = SigV4.sign(new SigV4.Request(method, q < 0 ? path : path.substring(0, q), q < 0 ? null : path.substring(q + 1),
                Map.of("Host", localhost()), body), SigV4Filter.KEY, SigV4Filter.SECRET, "local", at);
        List<String> lines = new ArrayList<>();
        signed.forEach((k, v) -> lines.add(k + ": " + v));
        return lines;
    }

    @Test
    void lineTerminatorsAndUnknownPathsStillNeedASignature() throws Exception {
        // Without DOTALL, ".*" stopped at a line terminator: these reached the resource unsigned (400, not 403).
        for (String path : List.of("/2015-03-31/functions/fz%0A", "/2015-03-31/functions/fz%C2%85", "/2015-03-31/functions/fz%E2%80%A8",
                "/2015-03-31/functions/fz%0D", "/2015-03-31/functions/fz%0A/configuration", "/2019-09-30/functions/fz%0A/concurrency",
                "/2015-03-31/functions", "/no-such-path", "/admin%0A/overview", "/dashboard%2Flogin", "/%0A",
                "/2015-03-31/functions/../../2015-03-31/functions")) {
            RawHttp.Reply r = RawHttp.get(port(), path, localhost());
            assertEquals(403, r.status(), path + ": " + r.body());
            assertEquals("MissingAuthenticationTokenException", r.header("X-Amzn-ErrorType"), path);
        }
    }

    @Test
    void onlyTheAllowListIsOpenWithoutCredentials() throws Exception {
        assertEquals(303, RawHttp.get(port(), "/", localhost()).status());
        assertEquals(303, RawHttp.get(port(), "/dashboard", localhost()).status());
        RawHttp.Reply wrong = RawHttp.get(port(), "/dashboard/login?token=not-the-token-at-all", localhost());
        assertEquals(403, wrong.status());
        assertEquals(null, wrong.header("Set-Cookie"));
    }

    @Test
    void operatorPagesNeedTheAdminTokenOrASignature() throws Exception {
        RawHttp.Reply none = RawHttp.get(port(), "/admin/overview", localhost());
        assertEquals(401, none.status(), none.body());
        assertEquals("Bearer realm=\"flicker\"", none.header("WWW-Authenticate"));
        assertTrue(none.body().contains("admin token"), none.body());
        for (String path : List.of("/admin/invocations", "/admin/dead-letters", "/admin/async/x", "/admin/no-such-page")) {
            assertEquals(401, RawHttp.get(port(), path, localhost()).status(), path);
        }
        assertEquals(401, RawHttp.get(port(), "/admin/overview", localhost(), "Authorization: Bearer not-the-token").status());
        assertEquals(401, RawHttp.get(port(), "/admin/overview", localhost(), "Cookie: flicker-admin=not-the-token").status());
        assertEquals(200, RawHttp.get(port(), "/admin/overview", localhost(), "Authorization: Bearer " + token()).status());
        assertEquals(200, RawHttp.get(port(), "/admin/overview", localhost(), "Cookie: flicker-admin=" + token()).status());
        List<String> signed = signature("GET", "/admin/overview", new byte[0], Instant.now());
        assertEquals(200, RawHttp.get(port(), "/admin/overview", localhost(), signed.toArray(String[]::new)).status());

        // The dashboard: its files need the cookie; the login URL sets it and goes on to the dashboard.
        for (String file : List.of("/dashboard/", "/dashboard/dashboard.js", "/dashboard/index.html")) {
            RawHttp.Reply page = RawHttp.get(port(), file, localhost());
            assertEquals(401, page.status(), file);
        }
        assertTrue(RawHttp.get(port(), "/dashboard/", localhost()).body().contains("/dashboard/login?token="));
        RawHttp.Reply login = RawHttp.get(port(), "/dashboard/login?token=" + token(), localhost());
        assertEquals(303, login.status());
        assertTrue(login.header("Location").endsWith("/dashboard/"), login.header("Location"));
        String cookie = login.header("Set-Cookie");
        assertNotNull(cookie);
        assertTrue(cookie.startsWith("flicker-admin=" + token() + ";"), cookie);
        assertTrue(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), cookie);
        RawHttp.Reply page = RawHttp.get(port(), "/dashboard/", localhost(), "Cookie: flicker-admin=" + token());
        assertEquals(200, page.status());
        assertTrue(page.body().contains("dashboard.js"));
        // A signature is for the API and /admin; the dashboard's files take the cookie only.
        assertEquals(401, RawHttp.get(port(), "/dashboard/", localhost(),
                signature("GET", "/dashboard/", new byte[0], Instant.now()).toArray(String[]::new)).status());
    }

    @Test
    void aHostThatIsNotThePlatformsIsRefused() throws Exception {
        // DNS rebinding: a page of attacker.example, its name now pointing at 127.0.0.1, sends Host: attacker.example.
        String bearer = "Authorization: Bearer " + token(), cookie = "Cookie: flicker-admin=" + token();
        for (String host : List.of("attacker.example", "attacker.example:" + port(), "localhost.attacker.example", "127.0.0.2")) {
            for (String path : List.of("/admin/overview", "/dashboard/", "/", "/dashboard/login?token=" + token())) {
                RawHttp.Reply r = RawHttp.get(port(), path, host, bearer, cookie);
                assertEquals(403, r.status(), host + path);
                assertTrue(r.body().contains("not a name of this platform"), r.body());
            }
        }
        assertEquals(403, RawHttp.get(port(), "/2015-03-31/functions", "attacker.example",
                signature("GET", "/2015-03-31/functions", new byte[0], Instant.now()).toArray(String[]::new)).status());
        for (String host : List.of("localhost:" + port(), "LOCALHOST:" + port(), "127.0.0.1:" + port(), "[::1]:" + port(), "localhost")) {
            assertEquals(200, RawHttp.get(port(), "/admin/overview", host, bearer).status(), host);
        }
    }

    @Test
    void unsignedAndStreamingPayloadsAreRefused() throws Exception {
        for (String payload : List.of("UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")) {
            List<String> headers = new ArrayList<>(signature("POST", "/2015-03-31/functions/any/invocations", "{}".getBytes(), Instant.now()));
            headers.replaceAll(h -> h.startsWith("X-Amz-Content-Sha256") ? "X-Amz-Content-Sha256: " + payload : h);
            try (RawHttp http = new RawHttp(port())) {
                RawHttp.Reply r = http.send("POST /2015-03-31/functions/any/invocations HTTP/1.1\r\nHost: " + localhost()
                        + "\r\nContent-Length: 2\r\n" + String.join("\r\n", headers), "{}".getBytes()).reply();
                assertEquals(403, r.status(), payload);
                assertEquals("InvalidSignatureException", r.header("X-Amzn-ErrorType"));
                assertTrue(r.body().contains("UNSIGNED-PAYLOAD"), r.body());
            }
        }
    }

    @Test
    void credentialsAndSizeAreCheckedBeforeTheBodyIsRead() throws Exception {
        // 75 MB announced, not a byte sent: the answer comes anyway, so the body was never waited for.
        try (RawHttp http = new RawHttp(port())) {
            RawHttp.Reply r = http.send("POST /2015-03-31/functions HTTP/1.1\r\nHost: " + localhost() + "\r\nContent-Length: 75000000",
                    new byte[0]).reply();
            assertEquals(403, r.status());
            assertEquals("MissingAuthenticationTokenException", r.header("X-Amzn-ErrorType"));
            assertEquals("close", r.header("Connection"));
        }
        try (RawHttp http = new RawHttp(port())) {
            RawHttp.Reply r = http.send("POST /2015-03-31/functions HTTP/1.1\r\nHost: " + localhost() + "\r\nContent-Length: "
                    + (AuthFilter.MAX_BODY_BYTES + 1) + "\r\n" + String.join("\r\n", signature("POST", "/2015-03-31/functions",
                    new byte[0], Instant.now())), new byte[0]).reply();
            assertEquals(413, r.status());
            assertEquals("RequestTooLargeException", r.header("X-Amzn-ErrorType"));
        }
        // Without a length (chunked), the limit holds as the body arrives: no truncation, a 413.
        try (RawHttp http = new RawHttp(port())) {
            http.send("POST /2015-03-31/functions HTTP/1.1\r\nHost: " + localhost() + "\r\nTransfer-Encoding: chunked\r\n"
                    + String.join("\r\n", signature("POST", "/2015-03-31/functions", new byte[0], Instant.now())), new byte[0]);
            int chunkBytes = 1 << 20;
            java.io.ByteArrayOutputStream chunk = new java.io.ByteArrayOutputStream();
            chunk.write((Integer.toHexString(chunkBytes) + "\r\n").getBytes());
            chunk.write(new byte[chunkBytes]);
            chunk.write("\r\n".getBytes());
            byte[] framed = chunk.toByteArray();
            for (long sent = 0; sent <= AuthFilter.MAX_BODY_BYTES && http.sendMore(framed); sent += chunkBytes) {
                // until the limit is passed or the platform hangs up
            }
            RawHttp.Reply r = http.reply();
            assertEquals(413, r.status());
            assertEquals("RequestTooLargeException", r.header("X-Amzn-ErrorType"));
        }
    }

    @Test
    void bodiesNotYetVerifiedHaveABudget() throws Exception {
        // Three announced 70 MiB bodies wait for their bytes; a fourth would pass the 256 MiB budget: 429 at once.
        AuthFilter filter = io.quarkus.arc.Arc.container().instance(AuthFilter.class).get();
        long held = AuthFilter.UNVERIFIED_BODY_BUDGET_BYTES / AuthFilter.MAX_BODY_BYTES * AuthFilter.MAX_BODY_BYTES;
        String head = "POST /2015-03-31/functions HTTP/1.1\r\nHost: " + localhost() + "\r\nContent-Length: " + AuthFilter.MAX_BODY_BYTES
                + "\r\n" + String.join("\r\n", signature("POST", "/2015-03-31/functions", new byte[0], Instant.now()));
        List<RawHttp> waiting = new ArrayList<>();
        try {
            for (long reserved = 0; reserved < held; reserved += AuthFilter.MAX_BODY_BYTES) {
                waiting.add(new RawHttp(port()).send(head, new byte[0]));
            }
            TestTime.await("the waiting bodies' reservations", Duration.ofSeconds(30), () -> filter.unverifiedBytes() >= held);
            assertEquals(held, filter.unverifiedBytes(), "the waiting bodies' reservations");
            try (RawHttp fourth = new RawHttp(port())) {
                RawHttp.Reply r = fourth.send(head, new byte[0]).reply();
                assertEquals(429, r.status(), r.body());
                assertEquals("TooManyRequestsException", r.header("X-Amzn-ErrorType"));
            }
        } finally {
            for (RawHttp w : waiting) w.close();
        }
        // Callers that hang up give their reservations back.
        TestTime.await("callers that hung up to give their reservations back", Duration.ofSeconds(30),
                () -> filter.unverifiedBytes() == 0);
        assertEquals(0, filter.unverifiedBytes());
    }
}
