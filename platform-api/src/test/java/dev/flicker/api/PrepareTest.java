package dev.flicker.api;

import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Preparing a function (its init, then the snapshot): bounded like Lambda's Init phase
 * ({@code flicker.function.init-timeout-seconds}, 5 s in tests unless FLICKER_TEST_INIT_TIMEOUT_SECONDS says otherwise), on several threads, and always ending Active or
 * Failed with a reason that is safe to store.
 */
@QuarkusTest
class PrepareTest {
    static final Path RUNTIMES = Path.of("target/test-programs");
    /** 5 s here; the emulated SVM host sets a longer one (FLICKER_TEST_INIT_TIMEOUT_SECONDS), as a start takes longer there. */
    @ConfigProperty(name = "flicker.function.init-timeout-seconds")
    long initTimeoutSeconds;

    @BeforeAll
    static void zip() throws IOException {
        FunctionsResourceTest.zip();
    }

    static void create(String name, Path bootstrap) throws IOException {
        String zip = Base64.getEncoder().encodeToString(FunctionsResourceTest.zipOf("bootstrap", Files.readAllBytes(bootstrap)));
        given().contentType(ContentType.JSON).body(FunctionsResourceTest.createBody(name, "provided", 128, zip))
                .post("/2015-03-31/functions").then().statusCode(201);
    }

    static String state(String name) {
        return given().get("/2015-03-31/functions/" + name).then().statusCode(200).extract().path("Configuration.State");
    }

    /** Polls until {@code name} leaves Pending (at most {@code seconds}); returns its state. */
    static String awaitSettled(String name, long seconds) throws InterruptedException {
        long until = System.nanoTime() + TestTime.scaled(Duration.ofSeconds(seconds)).toNanos();
        String state = state(name);
        while (state.equals("Pending") && System.nanoTime() < until) {
            Thread.sleep(50);
            state = state(name);
        }
        return state;
    }

    @NeedsKvm
    @Test
    void anInitThatSpinsFailsAtTheInitTimeoutAndHoldsUpNoOtherFunction() throws Exception {
        long t0 = System.nanoTime();
        create("spinner", RUNTIMES.resolve("init-spins/bootstrap"));
        // Created after the spinner: with one preparing thread it waited for the spinner's whole init.
        FunctionsResourceTest.createActive("bystander");
        assertEquals("Pending", state("spinner"), "the bystander was prepared while the spinner still initialised");

        // Its Timeout is 3 s, but the init has its own limit, like Lambda's 10 s: it ends there, Failed.
        String spinner = awaitSettled("spinner", initTimeoutSeconds + 30);
        long tookSeconds = (System.nanoTime() - t0) / 1_000_000_000L;
        assertEquals("Failed", spinner);
        assertTrue(tookSeconds >= initTimeoutSeconds && tookSeconds < initTimeoutSeconds + TestTime.scaled(Duration.ofSeconds(20)).toSeconds(), "settled after " + tookSeconds + " s");
        String reason = given().get("/2015-03-31/functions/spinner").then().extract().path("Configuration.StateReason");
        assertTrue(reason.contains("did not initialise"), reason);
        // Failed is not Pending: the function can be updated (a Pending one refuses with 409).
        given().contentType(ContentType.JSON).body("{\"Description\":\"retry\"}").put("/2015-03-31/functions/spinner/configuration")
                .then().statusCode(200);
        assertEquals("Failed", awaitSettled("spinner", initTimeoutSeconds + 30));
        given().delete("/2015-03-31/functions/spinner").then().statusCode(204);
        given().delete("/2015-03-31/functions/bystander").then().statusCode(204);
    }

    @NeedsKvm
    @Test
    void aFailedInitsStderrCannotKeepTheFunctionPending() throws Exception {
        // NUL in the reason once made the state update fail: the version stayed Pending, every update a 409.
        create("noisy", RUNTIMES.resolve("init-fails-noisily/bootstrap"));
        assertEquals("Failed", awaitSettled("noisy", initTimeoutSeconds + 30));
        String reason = given().get("/2015-03-31/functions/noisy").then().extract().path("Configuration.StateReason");
        assertTrue(reason.contains("init failed:") && reason.contains("NUL") && reason.contains("not utf-8"), reason);
        assertFalse(Params.hasControlCharacters(reason, false), "control characters in " + reason);
        assertTrue(reason.length() <= GuestText.MAX_REASON_CHARS + 20, "a reason of " + reason.length() + " characters");
        given().contentType(ContentType.JSON).body("{\"MemorySize\":256}").put("/2015-03-31/functions/noisy/configuration")
                .then().statusCode(200);
        assertEquals("Failed", awaitSettled("noisy", initTimeoutSeconds + 30));
        // A version published from it fails the same way, and is not left Pending either.
        String version = given().post("/2015-03-31/functions/noisy/versions").then().statusCode(201).extract().path("Version");
        assertEquals("Failed", awaitSettled("noisy?Qualifier=" + version, initTimeoutSeconds + 30));
        given().delete("/2015-03-31/functions/noisy").then().statusCode(204);
    }

    @NeedsKvm
    @Test
    void aFunctionWhoseInitFailsReportsItsLastUpdateFailedWithTheReason() throws Exception {
        // A Failed function said LastUpdateStatus: Successful; Lambda says Failed, with the reason and its code.
        create("init-fails", RUNTIMES.resolve("init-fails-noisily/bootstrap"));
        assertEquals("Failed", awaitSettled("init-fails", initTimeoutSeconds + 30));
        io.restassured.path.json.JsonPath c = given().get("/2015-03-31/functions/init-fails/configuration").then().statusCode(200)
                .extract().jsonPath();
        assertEquals("Failed", c.getString("State"));
        assertEquals("Failed", c.getString("LastUpdateStatus"));
        assertTrue(c.getString("LastUpdateStatusReason").contains("init failed:"), c.prettify());
        assertEquals(c.getString("StateReason"), c.getString("LastUpdateStatusReason"));
        assertEquals("InvalidRuntime", c.getString("LastUpdateStatusReasonCode"));
        assertEquals(c.getString("StateReasonCode"), c.getString("LastUpdateStatusReasonCode"));

        // An update makes it InProgress again, without the old failure's reason.
        given().contentType(ContentType.JSON).body("{\"Description\":\"again\"}").put("/2015-03-31/functions/init-fails/configuration")
                .then().statusCode(200).body("State", org.hamcrest.Matchers.equalTo("Pending"))
                .body("LastUpdateStatus", org.hamcrest.Matchers.equalTo("InProgress"))
                .body("$", org.hamcrest.Matchers.not(org.hamcrest.Matchers.hasKey("LastUpdateStatusReason")));
        assertEquals("Failed", awaitSettled("init-fails", initTimeoutSeconds + 30));
        given().delete("/2015-03-31/functions/init-fails").then().statusCode(204);
    }

    @NeedsKvm
    @Test
    void anActiveFunctionsLastUpdateSucceededWithNoReason() throws Exception {
        FunctionsResourceTest.createActive("init-works");
        given().get("/2015-03-31/functions/init-works/configuration").then().statusCode(200)
                .body("State", org.hamcrest.Matchers.equalTo("Active"))
                .body("LastUpdateStatus", org.hamcrest.Matchers.equalTo("Successful"))
                .body("$", org.hamcrest.Matchers.not(org.hamcrest.Matchers.hasKey("LastUpdateStatusReason")))
                .body("$", org.hamcrest.Matchers.not(org.hamcrest.Matchers.hasKey("LastUpdateStatusReasonCode")));
        given().delete("/2015-03-31/functions/init-works").then().statusCode(204);
    }

    @Test
    void statesFollowLambdasTransitions() {
        // Pending -> Active | Failed; a new deployment makes any state Pending again; nothing else.
        assertTrue(FunctionState.Pending.canBecome(FunctionState.Active));
        assertTrue(FunctionState.Pending.canBecome(FunctionState.Failed));
        assertTrue(FunctionState.Pending.canBecome(FunctionState.Pending));
        for (FunctionState s : FunctionState.values()) assertTrue(s.canBecome(FunctionState.Pending), s::name);
        for (FunctionState settled : new FunctionState[] {FunctionState.Active, FunctionState.Failed}) {
            assertFalse(settled.canBecome(FunctionState.Active), settled::name);
            assertFalse(settled.canBecome(FunctionState.Failed), settled::name);
        }
        // LastUpdateStatus: InProgress -> Successful | Failed, as each state has it.
        assertEquals(FunctionState.LastUpdateStatus.InProgress, FunctionState.Pending.lastUpdateStatus());
        assertEquals(FunctionState.LastUpdateStatus.Successful, FunctionState.Active.lastUpdateStatus());
        assertEquals(FunctionState.LastUpdateStatus.Failed, FunctionState.Failed.lastUpdateStatus());
    }

    @Test
    void guestTextIsMadeSafeForHeadersAndColumns() {
        assertEquals("Handled.Error-1_x", GuestText.errorType("Handled.Error-1_x"));
        for (String bad : new String[] {"", "a b", "x\0y", "x\ny", "x".repeat(129), "é", "x:y"}) {
            assertEquals(GuestText.UNKNOWN_ERROR_TYPE, GuestText.errorType(bad), bad);
        }
        assertEquals(null, GuestText.errorType(null));
        assertEquals("a b c", GuestText.line("a\0b\nc"));
        assertEquals(GuestText.MAX_REASON_CHARS + " (truncated)".length(), GuestText.line("x".repeat(5000)).length());
        assertEquals("a\uFFFDb\nc", GuestText.text("a\0b\nc", 100));
    }
}
