package dev.flicker.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.vertx.http.runtime.filters.Filters;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.security.MessageDigest;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Every request passes here first, before any resource or static file (a Vert.x filter), and is let through only
 * when it is one of these, in this order:
 * <ol>
 *   <li>its {@code Host} is one of the platform's names ({@code localhost}, {@code 127.0.0.1}, {@code ::1},
 *       {@code FLICKER_HOST} and {@code FLICKER_ALLOWED_HOSTS}), so that a page whose DNS name was rebound to
 *       this machine is refused whatever it sends;</li>
 *   <li>an explicit allow-list of pages that show nothing: {@code /}, {@code /dashboard} (both redirect) and
 *       {@code /dashboard/login};</li>
 *   <li>an operator's page ({@code /admin/...}, {@code /dashboard/...}) with the admin token ({@link AdminAuth}) as a
 *       bearer token or the dashboard's cookie; {@code /admin/...} also takes a SigV4 signature, as the CLI sends;</li>
 *   <li>anything else, the Lambda API included, with a valid AWS Signature Version 4 made with a configured
 *       access key. The headers are checked before a byte of the body is read; the body, at most
 *       {@link #MAX_BODY_BYTES}, is read and hashed as it arrives, and the signature checked when it is complete.
 *       All requests together hold at most {@link #UNVERIFIED_BODY_BUDGET_BYTES} of bodies not yet verified.</li>
 * </ol>
 * A refused request gets Lambda's error shape (403, 401 on operator pages, 413 for a body too large). Paths are
 * classified as routing sees them ({@link RoutingContext#normalizedPath()}), and a resource runs only for a request
 * this filter let through ({@link #requireApproval}).
 */
@ApplicationScoped
public class AuthFilter {
    /** Lambda's limit on a zip uploaded in the request (50 MB), base64-encoded, with room for the JSON around it. */
    static final long MAX_BODY_BYTES = 70L << 20;
    /** Bodies read but not yet verified, across all requests: what credential-less callers can make the platform hold. */
    static final long UNVERIFIED_BODY_BUDGET_BYTES = 256L << 20;
    /** Which way a request was let in; set on its routing context. */
    enum Access { OPEN, OPERATOR, SIGNED }
    static final String ACCESS = "flicker.access";
    private static final Set<String> OPEN_PATHS = Set.of("/", "/dashboard", "/dashboard/login");

    private final boolean sigV4Enabled;
    private final Map<String, String> secrets;
    private final AdminAuth admin;
    private final ObjectMapper json;
    private final Set<String> hostNames = new HashSet<>();
    private final AtomicLong unverifiedBytes = new AtomicLong();

    public AuthFilter(@ConfigProperty(name = "flicker.auth.enabled") boolean sigV4Enabled,
                      @ConfigProperty(name = "flicker.auth.access-key-id") String accessKeyId,
                      @ConfigProperty(name = "flicker.auth.secret-access-key") String secret,
                      @ConfigProperty(name = "quarkus.http.host") String listenHost,
                      @ConfigProperty(name = "flicker.http.allowed-hosts") Optional<List<String>> allowedHosts,
                      AdminAuth admin, ObjectMapper json) {
        this.sigV4Enabled = sigV4Enabled;
        this.secrets = Map.of(accessKeyId, secret);
        this.admin = admin;
        this.json = json;
        for (String h : List.of("localhost", "127.0.0.1", "::1", listenHost)) hostNames.add(hostName(h));
        allowedHosts.orElse(List.of()).forEach(h -> hostNames.add(hostName(h.strip())));
    }

    /** The host part of a {@code Host} header or a configured name: lower case, without port or IPv6 brackets. */
    static String hostName(String hostAndPort) {
        String h = hostAndPort.toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            int close = h.indexOf(']');
            return close < 0 ? h : h.substring(1, close);
        }
        int colon = h.lastIndexOf(':');
        // One colon: host:port. More: a bare IPv6 address (a configured name; a Host header brackets it).
        return colon >= 0 && h.indexOf(':') == colon ? h.substring(0, colon) : h;
    }

    void register(@Observes Filters filters) {
        filters.register(this::filter, 10_000); // before every other route
    }

    void filter(RoutingContext ctx) {
        HttpServerRequest req = ctx.request();
        if (!req.isEnded()) req.pause(); // no byte of the body is read until the request is let in
        String host = req.getHeader(HttpHeaders.HOST);
        if (host == null && req.authority() != null) host = req.authority().toString(); // HTTP/2's :authority
        if (host == null || !hostNames.contains(hostName(host))) {
            refuse(ctx, new LambdaError(403, "AccessDeniedException", "Host '" + host + "' is not a name of this platform "
                    + "(localhost, 127.0.0.1, ::1, FLICKER_HOST); FLICKER_ALLOWED_HOSTS adds names"));
            return;
        }
        String path = ctx.normalizedPath();
        if (OPEN_PATHS.contains(path)) {
            approve(ctx, Access.OPEN);
            return;
        }
        boolean adminApi = path.equals("/admin") || path.startsWith("/admin/");
        if (adminApi || path.startsWith("/dashboard/")) {
            if (admin.accepts(bearerToken(req)) || admin.accepts(adminCookie(ctx))) {
                approve(ctx, Access.OPERATOR);
                return;
            }
            String authorization = req.getHeader(HttpHeaders.AUTHORIZATION);
            boolean signed = authorization != null && authorization.startsWith(SigV4.ALGORITHM + " ");
            if (!adminApi || !signed) { // the dashboard's files take the cookie only
                refuseOperator(ctx, adminApi);
                return;
            }
        }
        if (!sigV4Enabled) {
            // Nothing to verify, but the body is read here all the same (bounded): the handlers take it from here.
            readBody(ctx, null, null);
            return;
        }
        readSigned(ctx);
    }

    /** Bodies being read and not yet verified, in bytes (for tests). */
    long unverifiedBytes() {
        return unverifiedBytes.get();
    }

    private static String bearerToken(HttpServerRequest req) {
        String auth = req.getHeader(HttpHeaders.AUTHORIZATION);
        return auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).strip() : null;
    }

    private static String adminCookie(RoutingContext ctx) {
        var cookie = ctx.request().getCookie(AdminAuth.COOKIE);
        return cookie == null ? null : cookie.getValue();
    }

    /** Checks the signature's headers, reads the body (bounded, hashed as it comes), then checks the signature. */
    private void readSigned(RoutingContext ctx) {
        HttpServerRequest req = ctx.request();
        Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (String name : req.headers().names()) headers.put(name, String.join(",", req.headers().getAll(name)));
        if (!headers.containsKey("Host") && req.authority() != null) headers.put("Host", req.authority().toString());
        SigV4.Authorization authorization;
        try {
            authorization = SigV4.checkHeaders(headers, secrets, Instant.now());
        } catch (SigV4.Refused e) {
            refuse(ctx, new LambdaError(403, e.type, e.getMessage()));
            return;
        }
        readBody(ctx, authorization, headers);
    }

    /**
     * Reads the body (bounded, hashed as it comes), then checks the signature of {@code authorization} (null with
     * SigV4 off) and lets the request through with its body on the routing context.
     */
    private void readBody(RoutingContext ctx, SigV4.Authorization authorization, Map<String, String> headers) {
        HttpServerRequest req = ctx.request();
        long declared;
        try {
            String length = req.getHeader(HttpHeaders.CONTENT_LENGTH);
            declared = length == null ? 0 : Long.parseLong(length);
        } catch (NumberFormatException e) {
            refuse(ctx, LambdaError.invalid("Content-Length is not a number"));
            return;
        }
        if (declared > MAX_BODY_BYTES) {
            refuse(ctx, tooLarge());
            return;
        }
        BodyReader reader = new BodyReader(ctx, authorization, headers);
        if (!reader.reserve(declared)) return;
        ctx.addEndHandler(v -> reader.release()); // the answer is out or the connection closed: nothing more to hold
        if (req.isEnded()) {
            reader.end();
            return;
        }
        if (req.headers().contains(HttpHeaders.EXPECT, HttpHeaders.CONTINUE, true)) ctx.response().writeContinue();
        req.handler(reader::chunk);
        req.endHandler(v -> reader.end());
        req.resume();
    }

    /** One request's body, read as it arrives: counted against the limits, hashed, kept for the resource. */
    private final class BodyReader {
        private final RoutingContext ctx;
        private final SigV4.Authorization authorization;
        private final Map<String, String> headers;
        private final MessageDigest sha256;
        private Buffer body;
        private long reservedBytes;
        private long readBytes;
        private boolean refused;

        BodyReader(RoutingContext ctx, SigV4.Authorization authorization, Map<String, String> headers) {
            this.ctx = ctx;
            this.authorization = authorization;
            this.headers = headers;
            this.sha256 = Sha256.digest();
        }

        /** Takes {@code bytes} more of the budget for unverified bodies, or refuses the request (429) and returns false. */
        boolean reserve(long bytes) {
            if (bytes <= 0) return true;
            if (unverifiedBytes.addAndGet(bytes) > UNVERIFIED_BODY_BUDGET_BYTES) {
                unverifiedBytes.addAndGet(-bytes);
                release();
                refused = true;
                refuse(ctx, LambdaError.throttled("CallerRateLimitExceeded", "Too many request bodies are being received "
                        + "at once; try again"));
                return false;
            }
            reservedBytes += bytes;
            return true;
        }

        void release() {
            unverifiedBytes.addAndGet(-reservedBytes);
            reservedBytes = 0;
        }

        void chunk(Buffer chunk) {
            if (refused) return;
            readBytes += chunk.length();
            if (readBytes > MAX_BODY_BYTES) {
                refused = true;
                release();
                refuse(ctx, tooLarge());
                return;
            }
            if (readBytes > reservedBytes && !reserve(readBytes - reservedBytes)) return;
            if (body == null) body = Buffer.buffer((int) Math.max(reservedBytes, chunk.length()));
            sha256.update(chunk.getByteBuf().nioBuffer());
            body.appendBuffer(chunk);
        }

        void end() {
            if (refused) return;
            release();
            if (authorization != null) {
                try {
                    SigV4.verifySignature(authorization, ctx.request().method().name(), ctx.request().path(), ctx.request().query(),
                            headers, Sha256.hex(sha256.digest()));
                } catch (SigV4.Refused e) {
                    refuse(ctx, new LambdaError(403, e.type, e.getMessage()));
                    return;
                }
            }
            ctx.setBody(body == null ? Buffer.buffer() : body);
            approve(ctx, Access.SIGNED);
        }
    }

    private static LambdaError tooLarge() {
        return LambdaError.tooLarge("Request must be smaller than " + MAX_BODY_BYTES + " bytes");
    }

    private static void approve(RoutingContext ctx, Access access) {
        ctx.put(ACCESS, access);
        ctx.next();
    }

    private void refuseOperator(RoutingContext ctx, boolean adminApi) {
        if (adminApi) {
            ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"flicker\"");
            refuse(ctx, new LambdaError(401, "MissingAuthenticationTokenException", "The operator's pages need the admin token "
                    + "(Authorization: Bearer <token>, or the dashboard's cookie from the login URL the platform printed at its "
                    + "start) or a SigV4 signature"));
            return;
        }
        finish(ctx, 401, "text/html; charset=utf-8", """
                <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Flicker: log in</title></head><body>
                <p>The dashboard needs the admin token. Open the login URL the platform printed when it started
                (<code>/dashboard/login?token=...</code>).</p></body></html>
                """);
    }

    private void refuse(RoutingContext ctx, LambdaError e) {
        ctx.response().putHeader("X-Amzn-ErrorType", e.type());
        String body;
        try {
            body = json.writeValueAsString(e.toResponse().getEntity());
        } catch (com.fasterxml.jackson.core.JsonProcessingException impossible) {
            throw new IllegalStateException(impossible);
        }
        finish(ctx, e.status(), "application/json", body);
    }

    private static void finish(RoutingContext ctx, int status, String contentType, String body) {
        // A body not read now never will be: close the connection after the answer rather than read it. (HTTP/2
        // has no Connection header; ending the stream is enough there.)
        if (!ctx.request().isEnded() && ctx.request().version() != HttpVersion.HTTP_2) {
            ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
        }
        ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, contentType).end(body);
    }

    /**
     * The second lock: a resource method runs only for a request {@link #filter} let through, so that a route that
     * bypassed it (a filter not registered, a new path) is refused rather than served.
     */
    @ServerRequestFilter(preMatching = true)
    public Response requireApproval(RoutingContext ctx) {
        if (ctx.get(ACCESS) != null) return null;
        return new LambdaError(403, "MissingAuthenticationTokenException", "Missing Authentication Token").toResponse();
    }
}
