package dev.flicker.api;

import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;

/**
 * The operator's credential for {@code /admin/...} and the dashboard: a token set with {@code FLICKER_ADMIN_TOKEN},
 * or else a random one made at every start. The platform prints the dashboard's login URL with it once, when it
 * starts. A client sends it as {@code Authorization: Bearer <token>}; the dashboard's login URL
 * ({@code /dashboard/login?token=...}) puts it in an HttpOnly, SameSite=Strict cookie, which a page of another site
 * cannot read or send.
 */
@ApplicationScoped
public class AdminAuth {
    static final String COOKIE = "flicker-admin";
    /** What a token may hold: it travels in a cookie and a URL, which need no quoting for these. */
    private static final java.util.regex.Pattern TOKEN = java.util.regex.Pattern.compile("[A-Za-z0-9._~-]{16,256}");

    private final String token;
    private final boolean generated;
    private final String loginUrl;

    public AdminAuth(@ConfigProperty(name = "flicker.admin.token") Optional<String> configured,
                     @ConfigProperty(name = "quarkus.http.host") String host,
                     @ConfigProperty(name = "quarkus.http.port") int port) {
        if (configured.isPresent() && !TOKEN.matcher(configured.get()).matches()) {
            throw new IllegalArgumentException("FLICKER_ADMIN_TOKEN must be 16 to 256 of A-Z a-z 0-9 . _ ~ -");
        }
        this.generated = configured.isEmpty();
        this.token = configured.orElseGet(AdminAuth::randomToken);
        String shownHost = host.equals("0.0.0.0") || host.equals("::") || host.equals("127.0.0.1") ? "localhost" : host;
        this.loginUrl = "http://" + (shownHost.contains(":") ? "[" + shownHost + "]" : shownHost) + ":" + port + "/dashboard/login?token=";
    }

    private static String randomToken() {
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    }

    /** Printed once, at start: the only place a generated token is shown. */
    void onStart(@Observes StartupEvent event) {
        if (generated) {
            System.err.println("flicker: operator dashboard: " + loginUrl + token
                    + "  (a new token at every start; FLICKER_ADMIN_TOKEN sets one)");
        } else {
            System.err.println("flicker: operator dashboard: " + loginUrl + "$FLICKER_ADMIN_TOKEN");
        }
    }

    /** True when {@code candidate} is the token; in constant time, so that timing tells nothing about it. */
    boolean accepts(String candidate) {
        return candidate != null && MessageDigest.isEqual(candidate.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8));
    }

    /** The header that gives a browser the token as the dashboard's cookie. */
    String cookieHeader() {
        return COOKIE + "=" + token + "; Path=/; HttpOnly; SameSite=Strict";
    }

    /** For tests, which run the platform in their own JVM. */
    String token() {
        return token;
    }
}
