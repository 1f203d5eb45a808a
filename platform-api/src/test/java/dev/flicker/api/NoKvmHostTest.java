package dev.flicker.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flicker.testing.TestTime;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The platform on a host without KVM (its device path pointed at nothing): it starts, says why it cannot run
 * functions on the overview, keeps functions Pending with that reason and answers invocations with Lambda's
 * error shape, never a 500. Runs anywhere: it needs no VM.
 */
@QuarkusTest
@TestProfile(NoKvmHostTest.WithoutKvm.class)
class NoKvmHostTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static final class WithoutKvm implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("flicker.kvm-device", "/nonexistent/kvm");
        }
    }

    @Test
    void theControlPlaneRunsAndSaysWhyFunctionsCannot() throws Exception {
        JsonNode host = JSON.readTree(DashboardTest.operator().get("/admin/overview").then().statusCode(200).extract().asString())
                .get("host");
        assertFalse(host.get("canRunFunctions").asBoolean(), host.toString());
        assertTrue(host.get("cannotRunFunctionsBecause").asText().contains("/nonexistent/kvm does not exist"), host.toString());

        String zip = java.util.Base64.getEncoder().encodeToString(FunctionsResourceTest.zipOf("bootstrap",
                java.nio.file.Files.readAllBytes(FunctionsResourceTest.BOOTSTRAP)));
        DashboardTest.signed().contentType(ContentType.JSON).body(FunctionsResourceTest.createBody("nokvm", "provided", 128, zip))
                .post("/2015-03-31/functions").then().statusCode(201).body("State", equalTo("Pending"));
        String reason = TestTime.await("a StateReason that says why nokvm stays Pending", Duration.ofSeconds(10), () ->
                DashboardTest.signed().get("/2015-03-31/functions/nokvm").then().statusCode(200)
                        .body("Configuration.State", equalTo("Pending")).extract().path("Configuration.StateReason"));
        assertTrue(reason.startsWith("This host cannot run functions: /nonexistent/kvm does not exist"), reason);

        for (String type : new String[] {"RequestResponse", "Event"}) {
            DashboardTest.signed().header("X-Amz-Invocation-Type", type).body("{}").post("/2015-03-31/functions/nokvm/invocations")
                    .then().statusCode(502).header("X-Amzn-ErrorType", "ResourceNotReadyException")
                    .body("message", containsString("This Flicker host cannot run functions"));
        }
        assertEquals(0, JSON.readTree(DashboardTest.operator().get("/admin/overview").then().extract().asString())
                .get("async").get("queued").asLong(), "an Event invocation the host cannot run is refused, not queued");
        DashboardTest.signed().body("{}").post("/2015-03-31/functions/nobody/invocations").then().statusCode(404);
        DashboardTest.signed().delete("/2015-03-31/functions/nokvm").then().statusCode(204);
    }
}
