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
 * Every mutating or invoking request (anything but GET and HEAD) must carry a valid AWS Signature Version 4
 * made with a configured access key, so that AWS SDKs work unmodified and nobody else can deploy or invoke.
 * A refused request gets a 403 in Lambda's shape.
 */
public class AuthFilter {
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
        if (!enabled || method.equals("GET") || method.equals("HEAD")) return null;
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
