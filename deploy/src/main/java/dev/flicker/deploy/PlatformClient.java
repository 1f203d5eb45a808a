package dev.flicker.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpFullRequest;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.lambda.LambdaClient;
import software.amazon.awssdk.services.lambda.model.GetFunctionConfigurationResponse;
import software.amazon.awssdk.services.lambda.model.State;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A running platform, as the CLI and the API benchmark talk to it: Lambda's API through the AWS SDK's
 * {@link LambdaClient} pointed at the platform, and Flicker's own {@code /admin} endpoints, which the SDK does not
 * model, signed with the SDK's SigV4 signer and read with Jackson. One HTTP client serves both.
 */
final class PlatformClient implements AutoCloseable {
    /** The region of the platform's ARNs; its AuthFilter takes any region in a signature, and service {@code lambda}. */
    static final Region REGION = Region.of("local");
    static final String SIGNING_NAME = "lambda";
    static final String DEFAULT_ENDPOINT = "http://localhost:9000";
    /** Lambda's longest Timeout is 900 s: a synchronous Invoke may take that long before its answer starts. */
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(900 + 60);
    private static final Duration POLL_INTERVAL = Duration.ofMillis(100);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_MESSAGE_CHARS = 300;

    private final URI endpoint;
    private final AwsBasicCredentials credentials;
    private final SdkHttpClient http;
    private final LambdaClient lambda;

    PlatformClient(URI endpoint, String accessKeyId, String secretAccessKey) {
        this.endpoint = endpoint;
        this.credentials = AwsBasicCredentials.create(accessKeyId, secretAccessKey);
        this.http = UrlConnectionHttpClient.builder().socketTimeout(READ_TIMEOUT).build();
        // No retries: a refusal (a 429 included) or an unreachable platform is reported at once, as the CLI's answer.
        this.lambda = LambdaClient.builder().endpointOverride(endpoint).region(REGION).httpClient(http)
                .credentialsProvider(StaticCredentialsProvider.create(credentials))
                .overrideConfiguration(c -> c.retryStrategy(AwsRetryStrategy.doNotRetry())).build();
    }

    /**
     * The platform {@code FLICKER_ENDPOINT} names (default {@value #DEFAULT_ENDPOINT}), with the key
     * {@code FLICKER_ACCESS_KEY_ID} and {@code FLICKER_SECRET_ACCESS_KEY} (the platform's defaults otherwise).
     *
     * @throws IllegalArgumentException when the endpoint is not an http or https URL
     */
    static PlatformClient fromEnvironment(Map<String, String> env) {
        return new PlatformClient(endpoint(env.getOrDefault("FLICKER_ENDPOINT", DEFAULT_ENDPOINT)),
                env.getOrDefault("FLICKER_ACCESS_KEY_ID", "flicker"),
                env.getOrDefault("FLICKER_SECRET_ACCESS_KEY", "flicker-local-secret"));
    }

    static URI endpoint(String text) {
        URI uri;
        try {
            uri = URI.create(text.replaceAll("/+$", ""));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("FLICKER_ENDPOINT '" + text + "' is not a URL");
        }
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null
                || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new IllegalArgumentException("FLICKER_ENDPOINT '" + text + "' is not an http:// or https:// URL of the platform");
        }
        return uri;
    }

    URI endpoint() {
        return endpoint;
    }

    LambdaClient lambda() {
        return lambda;
    }

    /**
     * Polls the configuration of {@code name} ({@code qualifier} null for {@code $LATEST}) until it leaves
     * {@code Pending}; empty if it is still Pending after {@code limit}.
     */
    Optional<GetFunctionConfigurationResponse> awaitSettled(String name, String qualifier, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            GetFunctionConfigurationResponse conf = lambda.getFunctionConfiguration(b -> b.functionName(name).qualifier(qualifier));
            if (conf.state() != State.PENDING) return Optional.of(conf);
            if (System.nanoTime() - deadline >= 0) return Optional.empty();
            Thread.sleep(POLL_INTERVAL);
        }
    }

    /**
     * A signed GET of one of Flicker's own endpoints ({@code encodedPath}, such as {@code /admin/invocations}, with
     * its user-given segments already URL-encoded; {@code query} not encoded), read as JSON.
     *
     * @throws AwsServiceException with the platform's error type and message when it refuses
     * @throws IOException when the platform cannot be reached or answers with something other than JSON
     */
    JsonNode getJson(String encodedPath, Map<String, String> query) throws IOException {
        SdkHttpFullRequest.Builder request = SdkHttpFullRequest.builder().method(SdkHttpMethod.GET).uri(endpoint)
                .encodedPath(endpoint.getRawPath() + encodedPath);
        query.forEach(request::putRawQueryParameter);
        SignedRequest signed = sign(request.build(), new byte[0]);
        HttpExecuteResponse response = http.prepareRequest(HttpExecuteRequest.builder().request(signed.request()).build()).call();
        byte[] body;
        try (InputStream in = response.responseBody().map(InputStream.class::cast).orElse(InputStream.nullInputStream())) {
            body = in.readAllBytes();
        }
        int status = response.httpResponse().statusCode();
        if (status >= 300) throw refusal(status, response.httpResponse().firstMatchingHeader("X-Amzn-ErrorType"), body);
        return JSON.readTree(body);
    }

    /** Lambda's error shape: the type in {@code X-Amzn-ErrorType} (up to a ':'), the text in the body's {@code message}. */
    private static AwsServiceException refusal(int status, Optional<String> errorType, byte[] body) {
        String message;
        try {
            JsonNode json = JSON.readTree(body);
            message = json.path("message").asText(json.path("Message").asText(json.toString()));
        } catch (IOException e) { // not Lambda's shape (a proxy's page, say): its start tells what answered
            String text = new String(body, StandardCharsets.UTF_8);
            message = text.length() > MAX_MESSAGE_CHARS ? text.substring(0, MAX_MESSAGE_CHARS) + "..." : text;
        }
        String type = errorType.map(t -> t.split(":", 2)[0]).orElse(null);
        return AwsServiceException.builder().statusCode(status).message(message)
                .awsErrorDetails(AwsErrorDetails.builder().errorCode(type).errorMessage(message).serviceName("Flicker").build()).build();
    }

    /**
     * The headers that sign a request to {@code uri} with {@code body} (the signature stays valid for 15 minutes, so a
     * load generator may send them again and again).
     */
    Map<String, String> signedHeaders(SdkHttpMethod method, URI uri, Map<String, String> headers, byte[] body) {
        SdkHttpFullRequest.Builder request = SdkHttpFullRequest.builder().method(method).uri(uri);
        headers.forEach(request::putHeader);
        Map<String, String> signed = new LinkedHashMap<>();
        sign(request.build(), body).request().forEachHeader((name, values) -> signed.put(name, String.join(",", values)));
        return signed;
    }

    private SignedRequest sign(SdkHttpRequest request, byte[] body) {
        return AwsV4HttpSigner.create().sign(r -> r.identity(credentials).request(request)
                .payload(ContentStreamProvider.fromByteArray(body))
                .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, SIGNING_NAME)
                .putProperty(AwsV4HttpSigner.REGION_NAME, REGION.id()));
    }

    @Override
    public void close() {
        lambda.close();
        http.close();
    }

}
