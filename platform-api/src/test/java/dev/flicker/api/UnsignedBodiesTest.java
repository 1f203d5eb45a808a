package dev.flicker.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;

/**
 * With SigV4 off (flicker.auth.enabled=false) no filter reads a request's body before the handlers, which run on the
 * event loop and take it from the request themselves ({@link Bodies}): the body must still arrive whole.
 */
@QuarkusTest
@TestProfile(UnsignedBodiesTest.WithoutSigV4.class)
class UnsignedBodiesTest {
    public static final class WithoutSigV4 implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("flicker.auth.enabled", "false");
        }
    }

    @Test
    void handlersReadTheBodyThemselves() {
        // An empty body would be "the request body is empty"; these answers need the JSON that was sent.
        given().contentType(ContentType.JSON).body("{}").put("/2019-09-25/functions/absent/event-invoke-config")
                .then().statusCode(400).body("message", containsString("MaximumRetryAttempts is required"));
        given().contentType(ContentType.JSON).body("{\"MaximumRetryAttempts\":1}").put("/2019-09-25/functions/absent/event-invoke-config")
                .then().statusCode(404).header("X-Amzn-ErrorType", "ResourceNotFoundException");
        given().contentType(ContentType.JSON).body("[]").post("/2015-03-31/functions")
                .then().statusCode(400).body("message", containsString("must be a JSON object"));
        given().contentType(ContentType.JSON).body("{\"FunctionName\":\"absent\",\"Runtime\":\"nodejs\"}").post("/2015-03-31/functions")
                .then().statusCode(400).body("message", containsString("Runtime 'nodejs' is not supported"));
    }
}
