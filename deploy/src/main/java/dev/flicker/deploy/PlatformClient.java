package dev.flicker.deploy;

import dev.flicker.api.SigV4;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/** Signed HTTP calls to a running platform: the CLI's and the API benchmark's one way to talk to it. */
record PlatformClient(String endpoint, String key, String secret) {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    static PlatformClient fromEnvironment(Map<String, String> env) {
        return new PlatformClient(env.getOrDefault("FLICKER_ENDPOINT", "http://localhost:9000").replaceAll("/+$", ""),
                env.getOrDefault("FLICKER_ACCESS_KEY_ID", "flicker"),
                env.getOrDefault("FLICKER_SECRET_ACCESS_KEY", "flicker-local-secret"));
    }

    /** The SigV4 headers for one request (valid for 15 minutes, so a load generator may replay them). */
    Map<String, String> signature(String method, URI uri, byte[] body) {
        String host = uri.getHost() + (uri.getPort() > 0 ? ":" + uri.getPort() : "");
        return new TreeMap<>(SigV4.sign(new SigV4.Request(method, uri.getRawPath(), uri.getRawQuery(), Map.of("Host", host), body),
                key, secret, "local", Instant.now()));
    }

    HttpResponse<String> call(String method, String pathAndQuery, String body, Map<String, String> headers)
            throws IOException, InterruptedException {
        URI uri = URI.create(endpoint + pathAndQuery);
        byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).method(method,
                body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(bytes));
        if (body != null) b.header("Content-Type", "application/json");
        headers.forEach(b::header);
        signature(method, uri, bytes).forEach(b::header);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
