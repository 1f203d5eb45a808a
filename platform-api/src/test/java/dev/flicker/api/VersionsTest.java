package dev.flicker.api;

import dev.flicker.testing.NeedsKvm;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PublishVersion, ListVersionsByFunction and qualified invocations: each version runs its own snapshot. */
@QuarkusTest
class VersionsTest {
    static final String FUNCTIONS = "/2015-03-31/functions/";

    @BeforeAll
    static void zip() throws IOException {
        FunctionsResourceTest.zip();
    }

    static void awaitActive(String name, String qualifier) {
        assertEquals("Active", FunctionsResourceTest.awaitStateSettled(name + "?Qualifier=" + qualifier), name + ":" + qualifier);
    }

    /** Invokes {@code path} and returns the executed version and the log tail. */
    static List<String> invoke(String path) {
        Response r = given().header("X-Amz-Log-Type", "Tail").body("{\"name\":\"v\"}").post(path);
        r.then().statusCode(200);
        assertEquals("{\"greeting\":\"hello, v\"}", r.asString());
        return List.of(r.header("X-Amz-Executed-Version"),
                new String(Base64.getDecoder().decode(r.header("X-Amz-Log-Result")), StandardCharsets.UTF_8));
    }

    @NeedsKvm
    @Test
    void publishedVersionsKeepTheirCodeAndConfiguration() throws Exception {
        FunctionsResourceTest.createActive("versioned");
        String sha = given().get(FUNCTIONS + "versioned/configuration").then().extract().path("CodeSha256");

        given().contentType(ContentType.JSON).body("{\"CodeSha256\":\"not-the-code\"}").post(FUNCTIONS + "versioned/versions")
                .then().statusCode(400).header("X-Amzn-ErrorType", "InvalidParameterValueException").body("message", containsString("CodeSha256"));
        given().contentType(ContentType.JSON).body("{\"CodeSha256\":\"" + sha + "\",\"Description\":\"first\"}")
                .post(FUNCTIONS + "versioned/versions").then().statusCode(201)
                .body("Version", equalTo("1")).body("Description", equalTo("first")).body("MemorySize", equalTo(128))
                .body("FunctionArn", equalTo("arn:aws:lambda:local:000000000000:function:versioned:1"));
        awaitActive("versioned", "1");
        // Nothing changed since version 1: Lambda publishes nothing new and answers with version 1.
        given().post(FUNCTIONS + "versioned/versions").then().statusCode(201).body("Version", equalTo("1"));

        given().contentType(ContentType.JSON).body("{\"MemorySize\":256,\"Environment\":{\"Variables\":{\"GREETING\":\"two\"}}}")
                .put(FUNCTIONS + "versioned/configuration").then().statusCode(200).body("Version", equalTo("$LATEST"));
        awaitActive("versioned", "$LATEST");
        given().post(FUNCTIONS + "versioned/versions").then().statusCode(201).body("Version", equalTo("2")).body("MemorySize", equalTo(256));
        awaitActive("versioned", "2");

        // Each qualifier form runs its own version, with its own environment.
        for (var c : Map.of(FUNCTIONS + "versioned:1/invocations", "1", FUNCTIONS + "versioned/invocations?Qualifier=2", "2",
                FUNCTIONS + "versioned/invocations", "$LATEST",
                FUNCTIONS + "arn:aws:lambda:local:000000000000:function:versioned:1/invocations", "1").entrySet()) {
            List<String> ran = invoke(c.getKey());
            assertEquals(c.getValue(), ran.get(0), c.getKey());
            assertTrue(ran.get(1).contains(" as versioned:" + c.getValue() + "\n"), ran.get(1));
        }
        given().get(FUNCTIONS + "versioned/configuration?Qualifier=1").then().statusCode(200)
                .body("MemorySize", equalTo(128)).body("Environment.Variables.GREETING", equalTo("hi"));
        given().get(FUNCTIONS + "versioned:2/configuration").then().statusCode(200)
                .body("MemorySize", equalTo(256)).body("Environment.Variables.GREETING", equalTo("two"))
                .body("FunctionArn", endsWith(":versioned:2"));

        given().get(FUNCTIONS + "versioned/versions").then().statusCode(200)
                .body("Versions.Version", equalTo(List.of("$LATEST", "1", "2"))).body("NextMarker", nullValue());
        String marker = given().get(FUNCTIONS + "versioned/versions?MaxItems=2").then().statusCode(200)
                .body("Versions.Version", equalTo(List.of("$LATEST", "1"))).extract().path("NextMarker");
        given().get(FUNCTIONS + "versioned/versions?MaxItems=2&Marker=" + marker).then().statusCode(200)
                .body("Versions.Version", equalTo(List.of("2"))).body("NextMarker", nullValue());

        // An Event invocation of a version runs that version, and its record says so, with every phase.
        String queued = given().header("X-Amz-Invocation-Type", "Event").body("{\"name\":\"later\"}")
                .post(FUNCTIONS + "versioned:1/invocations").then().statusCode(202).extract().header("X-Amzn-RequestId");
        assertEquals("Succeeded", FunctionsResourceTest.awaitAsync(queued, "Succeeded"));
        io.quarkus.arc.Arc.container().instance(Invocations.class).get().flush();
        Map<String, Object> record = given().get("/admin/invocations?function=versioned&limit=1").then().statusCode(200)
                .extract().path("[0]");
        assertEquals("1", record.get("version"), record::toString);
        assertTrue(((String) record.get("requestId")).startsWith(queued), record::toString);
        assertEquals(128, record.get("billedMemoryMb"));
        for (String phase : List.of("queuedMs", "vmReadyMs", "initMs", "deliverMs", "handlerMs", "responseMs")) {
            assertTrue(((Number) record.get(phase)).doubleValue() >= 0, () -> phase + " in " + record);
        }
        double phases = List.of("vmReadyMs", "initMs", "deliverMs", "handlerMs", "responseMs").stream()
                .mapToDouble(p -> ((Number) record.get(p)).doubleValue()).sum();
        assertEquals(((Number) record.get("durationMs")).doubleValue(), phases, 0.01, record::toString);

        given().delete(FUNCTIONS + "versioned?Qualifier=$LATEST").then().statusCode(400);
        given().delete(FUNCTIONS + "versioned:1").then().statusCode(204);
        given().body("{}").post(FUNCTIONS + "versioned:1/invocations").then().statusCode(404)
                .header("X-Amzn-ErrorType", "ResourceNotFoundException").body("message", containsString("versioned:1"));
        given().get(FUNCTIONS + "versioned/versions").then().body("Versions.Version", equalTo(List.of("$LATEST", "2")));
        // Numbers are never reused, and nothing changed since version 2.
        given().post(FUNCTIONS + "versioned/versions").then().statusCode(201).body("Version", equalTo("2"));

        given().delete(FUNCTIONS + "versioned").then().statusCode(204);
        given().get(FUNCTIONS + "versioned?Qualifier=2").then().statusCode(404);
    }

    @NeedsKvm
    @Test
    void createAndUpdateCanPublish() throws Exception {
        String body = FunctionsResourceTest.createBody("published", "provided", 128, FunctionsResourceTest.zipBase64)
                .replace("{\"FunctionName\"", "{\"Publish\":true,\"FunctionName\"");
        given().contentType(ContentType.JSON).body(body).post("/2015-03-31/functions").then().statusCode(201)
                .body("Version", equalTo("1"));
        awaitActive("published", "1");
        awaitActive("published", "$LATEST");
        assertEquals("1", invoke(FUNCTIONS + "published:1/invocations").get(0));

        String other = Base64.getEncoder().encodeToString(zipWithData());
        given().contentType(ContentType.JSON).body("{\"ZipFile\":\"" + other + "\",\"Publish\":true}")
                .put(FUNCTIONS + "published/code").then().statusCode(200).body("Version", equalTo("2"));
        awaitActive("published", "2");
        String sha1 = given().get(FUNCTIONS + "published:1/configuration").then().extract().path("CodeSha256");
        String sha2 = given().get(FUNCTIONS + "published:2/configuration").then().extract().path("CodeSha256");
        assertTrue(!sha1.equals(sha2), sha1);
        given().delete(FUNCTIONS + "published").then().statusCode(204);
    }

    /** The same bootstrap beside a data file: other code, the same behaviour. */
    static byte[] zipWithData() throws IOException {
        return FunctionsResourceTest.zipOf(Map.of("bootstrap", java.nio.file.Files.readAllBytes(FunctionsResourceTest.BOOTSTRAP),
                "data.txt", "two".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void badQualifiersAreClearErrors() {
        given().get(FUNCTIONS + "nobody:prod").then().statusCode(404).body("message", containsString("no aliases"));
        given().get(FUNCTIONS + "nobody:1?Qualifier=2").then().statusCode(400).body("message", containsString("differ"));
        given().get(FUNCTIONS + "nobody/versions").then().statusCode(404);
        given().post(FUNCTIONS + "nobody/versions").then().statusCode(404);
        given().post(FUNCTIONS + "nobody:3/versions").then().statusCode(400);
        given().get(FUNCTIONS + "a:b:c").then().statusCode(400).body("message", containsString("FunctionName"));
        given().get(FUNCTIONS + "nobody/versions?Marker=xyz").then().statusCode(404);
    }
}
