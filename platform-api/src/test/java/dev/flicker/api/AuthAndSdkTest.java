package dev.flicker.api;

import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.lambda.LambdaClient;
import software.amazon.awssdk.services.lambda.model.InvocationType;
import software.amazon.awssdk.services.lambda.model.InvokeResponse;
import software.amazon.awssdk.services.lambda.model.LambdaException;
import software.amazon.awssdk.services.lambda.model.LogType;
import software.amazon.awssdk.services.lambda.model.ResourceNotFoundException;
import software.amazon.awssdk.services.lambda.model.Runtime;
import software.amazon.awssdk.services.lambda.model.State;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The AWS SDK for Java v2, unmodified, against Flicker; and what happens to unsigned or badly signed calls. */
@QuarkusTest
class AuthAndSdkTest {
    static LambdaClient client(String key, String secret) {
        return LambdaClient.builder().endpointOverride(URI.create("http://localhost:" + RestAssured.port))
                .region(Region.US_EAST_1)// A create or an invoke can take minutes under emulation: a read timeout would make the SDK send it again.
                .httpClient(UrlConnectionHttpClient.builder().socketTimeout(TestTime.scaled(Duration.ofSeconds(30))).build())
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(key, secret))).build();
    }

    @NeedsKvm
    @Test
    void awsSdkCreatesInvokesAndDeletes() throws Exception {
        byte[] zip = FunctionsResourceTest.zipOf("bootstrap", Files.readAllBytes(FunctionsResourceTest.BOOTSTRAP));
        try (LambdaClient lambda = client(SigV4Filter.KEY, SigV4Filter.SECRET)) {
            lambda.createFunction(b -> b.functionName("sdk").runtime(Runtime.PROVIDED_AL2023).handler("h")
                    .role("arn:aws:iam::000000000000:role/x").code(c -> c.zipFile(SdkBytes.fromByteArray(zip))).memorySize(128));
            awaitActive(lambda, null);
            // The SDK takes a GetFunction without Code.Location (which held the code's host path).
            var code = lambda.getFunction(b -> b.functionName("sdk")).code();
            assertEquals("Flicker", code.repositoryType());
            assertNull(code.location());

            InvokeResponse r = lambda.invoke(b -> b.functionName("sdk").logType(LogType.TAIL)
                    .payload(SdkBytes.fromUtf8String("{\"name\":\"SDK\"}")));
            assertEquals(200, r.statusCode());
            assertEquals("{\"greeting\":\"hello, SDK\"}", r.payload().asUtf8String());
            assertNull(r.functionError());
            assertEquals("$LATEST", r.executedVersion());

            InvokeResponse failed = lambda.invoke(b -> b.functionName("sdk").logType(LogType.TAIL).payload(SdkBytes.fromUtf8String("{}")));
            assertEquals("Unhandled", failed.functionError());
            assertTrue(new String(Base64.getDecoder().decode(failed.logResult()), StandardCharsets.UTF_8).contains("event without a name"));

            InvokeResponse async = lambda.invoke(b -> b.functionName("sdk").invocationType(InvocationType.EVENT)
                    .payload(SdkBytes.fromUtf8String("{\"name\":\"later\"}")));
            assertEquals(202, async.statusCode());

            // New code (the same bootstrap beside a data file) and a new configuration: each takes a new snapshot.
            byte[] two = FunctionsResourceTest.zipOf(Map.of("bootstrap", Files.readAllBytes(FunctionsResourceTest.BOOTSTRAP),
                    "data.txt", "v2".getBytes()));
            String oldSha = lambda.getFunction(b -> b.functionName("sdk")).configuration().codeSha256();
            var updated = lambda.updateFunctionCode(b -> b.functionName("sdk").zipFile(SdkBytes.fromByteArray(two)));
            assertTrue(!updated.codeSha256().equals(oldSha));
            awaitActive(lambda, null);
            lambda.updateFunctionConfiguration(b -> b.functionName("sdk").memorySize(256).timeout(5)
                    .environment(e -> e.variables(Map.of("STAGE", "two"))));
            awaitActive(lambda, null);
            var conf = lambda.getFunctionConfiguration(b -> b.functionName("sdk"));
            assertEquals(256, conf.memorySize());
            assertEquals(5, conf.timeout());
            assertEquals("two", conf.environment().variables().get("STAGE"));
            assertEquals("{\"greeting\":\"hello, v2\"}", lambda.invoke(b -> b.functionName("sdk")
                    .payload(SdkBytes.fromUtf8String("{\"name\":\"v2\"}"))).payload().asUtf8String());
            LambdaException bad = assertThrows(LambdaException.class,
                    () -> lambda.updateFunctionConfiguration(b -> b.functionName("sdk").memorySize(5)));
            assertEquals(400, bad.statusCode());

            assertTrue(lambda.listFunctions().functions().stream().anyMatch(f -> f.functionName().equals("sdk")));
            var v1 = lambda.publishVersion(b -> b.functionName("sdk").description("first"));
            assertEquals("1", v1.version());
            awaitActive(lambda, "1");
            InvokeResponse fromVersion = lambda.invoke(b -> b.functionName("sdk").qualifier("1").payload(SdkBytes.fromUtf8String("{\"name\":\"one\"}")));
            assertEquals("1", fromVersion.executedVersion());
            assertEquals("{\"greeting\":\"hello, one\"}", fromVersion.payload().asUtf8String());
            assertEquals(java.util.List.of("$LATEST", "1"), lambda.listVersionsByFunction(b -> b.functionName("sdk")).versions().stream()
                    .map(software.amazon.awssdk.services.lambda.model.FunctionConfiguration::version).toList());
            lambda.deleteFunction(b -> b.functionName("sdk"));
            assertThrows(ResourceNotFoundException.class, () -> lambda.getFunction(b -> b.functionName("sdk")));
        }
    }

    /** Waits for function {@code sdk} (at {@code qualifier}, or $LATEST when null) to leave Pending; it must be Active. */
    static void awaitActive(LambdaClient lambda, String qualifier) {
        State state = TestTime.await("sdk to leave Pending", Duration.ofSeconds(30), () -> {
            State now = lambda.getFunction(b -> b.functionName("sdk").qualifier(qualifier)).configuration().state();
            return now == State.PENDING ? null : now;
        });
        assertEquals(State.ACTIVE, state);
    }

    @Test
    void wrongCredentialsAreRefusedWithLambdasErrors() {
        try (LambdaClient wrongSecret = client(SigV4Filter.KEY, "not-the-secret");
             LambdaClient unknownKey = client("AKIDUNKNOWN", SigV4Filter.SECRET)) {
            LambdaException e = assertThrows(LambdaException.class, () -> wrongSecret.deleteFunction(b -> b.functionName("x")));
            assertEquals(403, e.statusCode());
            assertEquals("InvalidSignatureException", e.awsErrorDetails().errorCode());
            LambdaException u = assertThrows(LambdaException.class, () -> unknownKey.deleteFunction(b -> b.functionName("x")));
            assertEquals("UnrecognizedClientException", u.awsErrorDetails().errorCode());
        }
    }

    @Test
    void unsignedAndTamperedRequestsGet403() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        URI invoke = URI.create("http://localhost:" + RestAssured.port + "/2015-03-31/functions/any/invocations");
        HttpResponse<String> unsigned = http.send(HttpRequest.newBuilder(invoke).POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(403, unsigned.statusCode());
        assertEquals("MissingAuthenticationTokenException", unsigned.headers().firstValue("X-Amzn-ErrorType").orElseThrow());
        // Reads too: a function's configuration holds its environment, which often holds secrets.
        for (String path : java.util.List.of("/2015-03-31/functions", "/2015-03-31/functions/any/configuration",
                "/2019-09-30/functions/any/concurrency")) {
            HttpResponse<String> read = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + RestAssured.port + path)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(403, read.statusCode(), path);
        }
        // The operator's pages need the admin token (AccessTest has the rest).
        HttpResponse<String> overview = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + RestAssured.port
                + "/admin/overview")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(401, overview.statusCode());

        Map<String, String> signed = SigV4.sign(new SigV4.Request("POST", invoke.getRawPath(), null,
                Map.of("Host", "localhost:" + RestAssured.port), "{}".getBytes()), SigV4Filter.KEY, SigV4Filter.SECRET, "local", Instant.now());
        HttpRequest.Builder tampered = HttpRequest.newBuilder(invoke).POST(HttpRequest.BodyPublishers.ofString("{\"x\":1}"));
        signed.forEach((k, v) -> { if (!k.equalsIgnoreCase("X-Amz-Content-Sha256")) tampered.header(k, v); });
        HttpResponse<String> r = http.send(tampered.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(403, r.statusCode());
        assertEquals("InvalidSignatureException", r.headers().firstValue("X-Amzn-ErrorType").orElseThrow());

        Map<String, String> old = SigV4.sign(new SigV4.Request("POST", invoke.getRawPath(), null,
                Map.of("Host", "localhost:" + RestAssured.port), "{}".getBytes()), SigV4Filter.KEY, SigV4Filter.SECRET, "local",
                Instant.now().minusSeconds(3600));
        HttpRequest.Builder stale = HttpRequest.newBuilder(invoke).POST(HttpRequest.BodyPublishers.ofString("{}"));
        old.forEach(stale::header);
        HttpResponse<String> expired = http.send(stale.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(403, expired.statusCode());
        assertTrue(expired.body().contains("expired"), expired.body());
    }
}
