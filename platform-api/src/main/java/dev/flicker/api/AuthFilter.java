package dev.flicker.api;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/**
 * Every request to a Lambda API path ({@code /2015-03-31/...} and the other dated API versions), reads
 * included, must carry a valid AWS Signature Version 4 made with a configured access key: AWS SDKs sign
 * every call anyway, and a function's configuration holds its environment variables, which often hold
 * secrets. A refused request gets a 403 in Lambda's shape. The operator's pages ({@code /admin/...}, the
 * dashboard) are not signed; the server listens on loopback unless {@code FLICKER_HOST} says otherwise.
 */
public class AuthFilter {
    /** Lambda's API paths begin with the API version, a date. */
    private static final java.util.regex.Pattern LAMBDA_API_PATH = java.util.regex.Pattern.compile("/?\\d{4}-\\d{2}-\\d{2}(/.*)?");
    private final boolean enabled;
    private final Map<String, String> secrets;

    public AuthFilter(@ConfigProperty(name = "flicker.auth.enabled") boolean enabled,
                      @ConfigProperty(name = "flicker.auth.access-key-id") String accessKeyId,
                      @ConfigProperty(name = "flicker.auth.secret-access-key") String secret) {
        this.enabled = enabled;
        this.secrets = Map.of(accessKeyId, secret);
    }

    @ServerRequestFilter
    public Response authenticate(ContainerRequestContext ctx) throws IOException {
        String method = ctx.getMethod();
        if (!enabled || !LAMBDA_API_PATH.matcher(ctx.getUriInfo().getPath()).matches()) return null;
        byte[] body;
        try (InputStream in = ctx.getEntityStream()) {
            body = in.readNBytes(FunctionsResource.MAX_SYNC_PAYLOAD + 2 * 1024 * 1024);
        }
        ctx.setEntityStream(new ByteArrayInputStream(body));
        Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        ctx.getHeaders().forEach((k, v) -> headers.put(k, String.join(",", v)));
        var uri = ctx.getUriInfo().getRequestUri();
        // HTTP/2 carries the host as :authority, not as a Host header; SigV4 signs it as "host" either way.
        if (!headers.containsKey("Host") && uri.getAuthority() != null) headers.put("Host", uri.getAuthority());
        try {
            SigV4.verify(new SigV4.Request(method, uri.getRawPath(), uri.getRawQuery(), headers, body), secrets, Instant.now());
            return null;
        } catch (SigV4.Refused e) {
            return new LambdaError(403, e.type, e.getMessage()).toResponse();
        }
    }
}
