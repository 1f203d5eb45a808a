package dev.flicker.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.lambda.model.InvocationType;
import software.amazon.awssdk.services.lambda.model.InvokeResponse;
import software.amazon.awssdk.utils.http.SdkHttpUtils;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged platform as a process: 500 Event invocations are accepted, the process is killed with SIGKILL
 * while they run, and after a restart every accepted invocation completes (none lost), and an invocation
 * whose success was recorded never runs again.
 */
@NeedsKvm
class AsyncDurabilityTest {
    /** The Event queue's workers, each running one claimed invocation at a time. */
    static final int ASYNC_WORKERS = 2;
    static final Map<String, String> WORKERS = Map.of("FLICKER_ASYNC_WORKERS", Integer.toString(ASYNC_WORKERS));
    static final Path BOOTSTRAP = Path.of("../guest-kernel/target/test-programs/c-runtime/bootstrap");
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void acceptedEventInvocationsSurviveSigkill(@TempDir Path dataDir) throws Exception {
        int port = PlatformProcess.freePort();
        Process platform = PlatformProcess.start(dataDir, port, List.of(), WORKERS);
        List<String> accepted = new ArrayList<>();
        try (PlatformClient client = PlatformProcess.client(port)) {
            byte[] zip = FnCommand.zipDirectory(BOOTSTRAP.getParent());
            String fn = "durable" + Long.toHexString(System.nanoTime());
            client.lambda().createFunction(b -> b.functionName(fn).runtime("provided").handler("h")
                    .code(c -> c.zipFile(SdkBytes.fromByteArray(zip))));
            PlatformProcess.awaitActive(client, fn);
            for (int i = 0; i < 500; i++) {
                String event = JSON.writeValueAsString(Map.of("name", "n" + i));
                InvokeResponse r = client.lambda().invoke(b -> b.functionName(fn).invocationType(InvocationType.EVENT)
                        .payload(SdkBytes.fromUtf8String(event)));
                assertEquals(202, r.statusCode());
                accepted.add(r.responseMetadata().requestId());
            }
        } finally {
            platform.destroyForcibly().waitFor(); // SIGKILL: no shutdown hooks, no clean stop
        }

        Process again = PlatformProcess.start(dataDir, port, List.of(), WORKERS);
        try (PlatformClient client = PlatformProcess.client(port)) {
            int succeeded = 0, ranAgain = 0;
            for (String id : accepted) {
                JsonNode finished = TestTime.await("invocation " + id + " to finish", Duration.ofSeconds(30), () -> {
                    JsonNode s = asyncStatus(client, id);
                    String status = s.path("status").asText();
                    return status.equals("Succeeded") || status.equals("DeadLettered") ? s : null;
                });
                assertEquals("Succeeded", finished.path("status").asText(), "invocation " + id + ": " + finished);
                succeeded++;
                if (finished.path("attempts").asInt() > 1) ranAgain++;
            }
            assertEquals(500, succeeded);
            // At least once: only the invocations that were running when the process died (one per worker) may
            // have run twice.
            assertTrue(ranAgain <= ASYNC_WORKERS, ranAgain + " invocations ran more than once, with " + ASYNC_WORKERS + " workers");
        } finally {
            again.destroy();
            again.waitFor();
        }
    }

    /** {@code /admin/async/{requestId}}: the invocation's status and attempts; a 404 means it was lost. */
    private static JsonNode asyncStatus(PlatformClient client, String requestId) {
        try {
            return client.getJson("/admin/async/" + SdkHttpUtils.urlEncode(requestId), Map.of());
        } catch (AwsServiceException e) {
            throw new AssertionError("accepted invocation " + requestId + " is lost: " + e.statusCode() + " "
                    + e.awsErrorDetails().errorMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("GET /admin/async/" + requestId, e);
        }
    }
}
