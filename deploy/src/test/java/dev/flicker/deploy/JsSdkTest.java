package dev.flicker.deploy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The AWS SDK for JavaScript v3 ({@code @aws-sdk/client-lambda}, pinned in {@code src/test/js/package.json}),
 * unmodified, against the packaged platform running as a process: {@code src/test/js/sdk-test.mjs} run by
 * Node.js. The Java SDK's counterpart is platform-api's {@code AuthAndSdkTest}.
 */
@NeedsKvm
class JsSdkTest {
    static final Path BOOTSTRAP = Path.of("../guest-kernel/target/test-programs/c-runtime/bootstrap");
    static final Path JS = Path.of("src/test/js");
    static final String HOW_TO_INSTALL = "./flicker test installs it; or apt-get install nodejs npm, then npm ci in deploy/src/test/js";
    /** The steps of sdk-test.mjs, in order; each prints "ok <step>". */
    static final List<String> STEPS = List.of("wrongSecretIsRefused", "unknownKeyIsRefused", "createFunction",
            "becomesActive", "invokeWithLogTail", "invokeFunctionError", "invokeEvent", "invokeDryRun", "listFunctions",
            "updateFunctionConfiguration", "badConfigurationIsRefused", "updateFunctionCode", "getFunctionConfiguration",
            "publishVersion", "invokeVersion", "listVersionsByFunction",
            "deleteFunction", "deletedFunctionIsNotFound");
    /** Bounds a hung run only: the whole script takes seconds when the platform answers. */
    static final Duration RUN_LIMIT = TestTime.scaled(Duration.ofMinutes(3));
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void awsSdkForJavaScriptCreatesInvokesUpdatesAndDeletes(@TempDir Path dataDir, @TempDir Path work) throws Exception {
        Path node = onPath("node").orElseThrow(() -> new AssertionError("node is not on PATH: " + HOW_TO_INSTALL));
        checkSdkInstalled();
        Path zip = work.resolve("fn.zip");
        Files.write(zip, FnCommand.zipDirectory(BOOTSTRAP.getParent()));

        int port = PlatformProcess.freePort();
        Process platform = PlatformProcess.start(dataDir, port);
        try {
            ProcessBuilder pb = new ProcessBuilder(node.toString(), "sdk-test.mjs").directory(JS.toFile()).redirectErrorStream(true);
            pb.environment().put("FLICKER_ENDPOINT", "http://localhost:" + port);
            pb.environment().put("FLICKER_ZIP", zip.toAbsolutePath().toString());
            Process script = pb.start();
            List<String> lines = Collections.synchronizedList(new ArrayList<>());
            Thread reader = Thread.ofPlatform().name("sdk-test output").start(() -> echo(script, lines));
            if (!script.waitFor(RUN_LIMIT.toMillis(), TimeUnit.MILLISECONDS)) {
                script.destroyForcibly().waitFor();
                reader.join();
                fail("sdk-test.mjs did not finish within " + RUN_LIMIT.toSeconds() + " s:\n" + String.join("\n", lines));
            }
            reader.join();
            String output = String.join("\n", lines);
            assertEquals(0, script.exitValue(), "sdk-test.mjs failed:\n" + output);
            for (String step : STEPS) assertTrue(lines.contains("ok " + step), "no 'ok " + step + "' in:\n" + output);
            assertTrue(lines.contains("sdk-test: all " + STEPS.size() + " steps ok"), output);
        } finally {
            platform.destroy();
            platform.waitFor();
        }
    }

    /** Copies the script's output to the test's, where Surefire keeps it, line by line as it comes. */
    private static void echo(Process script, List<String> lines) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(script.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                System.out.println("[sdk-test] " + line);
                lines.add(line);
            }
        } catch (IOException e) {
            lines.add("(reading the output failed: " + e + ")");
        }
    }

    /**
     * The SDK must be installed, and be the version package.json pins: a node_modules left from an older lock
     * file would test another SDK than the one the project names.
     */
    private static void checkSdkInstalled() throws IOException {
        Path installed = JS.resolve("node_modules/@aws-sdk/client-lambda/package.json");
        if (!Files.isRegularFile(installed)) {
            fail("@aws-sdk/client-lambda is not installed in " + JS.resolve("node_modules").toAbsolutePath().normalize()
                    + ": " + HOW_TO_INSTALL);
        }
        String pinned = JSON.readTree(JS.resolve("package.json").toFile()).path("dependencies").path("@aws-sdk/client-lambda").asText();
        String version = JSON.readTree(installed.toFile()).path("version").asText();
        assertFalse(pinned.isEmpty(), "package.json pins no @aws-sdk/client-lambda");
        assertEquals(pinned, version, "node_modules holds @aws-sdk/client-lambda " + version + ", package.json pins " + pinned
                + ": run npm ci in deploy/src/test/js (./flicker test does)");
    }

    private static Optional<Path> onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) return Optional.empty();
        return Stream.of(path.split(File.pathSeparator)).filter(d -> !d.isEmpty()).map(d -> Path.of(d, program))
                .filter(Files::isExecutable).findFirst();
    }
}
