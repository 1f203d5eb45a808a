package dev.flicker.api;

import io.restassured.filter.Filter;
import io.restassured.filter.FilterContext;
import io.restassured.response.Response;
import io.restassured.specification.FilterableRequestSpecification;
import io.restassured.specification.FilterableResponseSpecification;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;

/** Signs every RestAssured request with SigV4 and the platform's default test credentials. */
final class SigV4Filter implements Filter {
    static final String KEY = "flicker", SECRET = "flicker-local-secret";

    @Override
    public Response filter(FilterableRequestSpecification req, FilterableResponseSpecification res, FilterContext ctx) {
        URI uri = URI.create(req.getURI());
        Object body = req.getBody();
        byte[] bytes = body == null ? new byte[0] : body instanceof byte[] b ? b : body.toString().getBytes(StandardCharsets.UTF_8);
        String host = uri.getHost() + (uri.getPort() > 0 ? ":" + uri.getPort() : "");
        Map<String, String> signed = SigV4.sign(new SigV4.Request(req.getMethod(), uri.getRawPath(), uri.getRawQuery(),
                Map.of("Host", host), bytes), KEY, SECRET, "local", Instant.now());
        signed.forEach(req::header);
        return ctx.next(req, res);
    }
}
