package dev.flicker.deploy;

import dev.flicker.testing.TestTime;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkServiceException;
import software.amazon.awssdk.services.lambda.model.State;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Fixture: the packaged platform as a child process on its own port and data directory, with PostgreSQL
 * 'flicker_it', or the database the system property {@code flicker.it.db} or {@code FLICKER_IT_DATABASE} names
 * ({@code ./flicker test} gives each checkout its own).
 */
final class PlatformProcess {
    static final Path PLATFORM = Path.of("../platform-api/target/quarkus-app/quarkus-run.jar");
    static final String DATABASE = System.getProperty("flicker.it.db", System.getenv().getOrDefault("FLICKER_IT_DATABASE", "flicker_it"));
    private static final java.util.Map<Integer, Path> LOGS = new java.util.concurrent.ConcurrentHashMap<>();

    private PlatformProcess() {}

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static Process start(Path dataDir, int port) throws Exception {
        return start(dataDir, port, java.util.List.of(), Map.of());
    }

    /** Like {@link #start(Path, int)}, with {@code jvmOptions} before {@code -jar} and {@code extraEnv} added last. */
    static Process start(Path dataDir, int port, java.util.List<String> jvmOptions, Map<String, String> extraEnv) throws Exception {
        if (!Files.isRegularFile(PLATFORM)) throw new IllegalStateException(PLATFORM.toAbsolutePath() + " is missing: build platform-api first");
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED"));
        command.addAll(jvmOptions);
        command.addAll(java.util.List.of("-jar", PLATFORM.toString()));
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> env = pb.environment();
        env.put("FLICKER_PORT", Integer.toString(port));
        env.put("FLICKER_DATA_DIR", dataDir.toString());
        env.put("FLICKER_DB_URL", "postgresql://localhost:5432/" + DATABASE);
        env.put("FLICKER_ASYNC_WORKERS", "1");
        // The python3.11 runtime layer that guest-kernel's test build makes (runtimes/python3.11/build.sh).
        env.put("FLICKER_RUNTIMES_DIR", Path.of("../guest-kernel/target/runtimes").toAbsolutePath().toString());
        env.put("FLICKER_ASYNC_BACKOFF_MILLIS", "50");
        // The platform's own wait for a database connection (Quarkus's default is 5 s) scales with the machine:
        // under emulation, connecting to PostgreSQL alone takes longer.
        env.put("QUARKUS_DATASOURCE_JDBC_ACQUISITION_TIMEOUT", TestTime.scaled(Duration.ofSeconds(5)).toSeconds() + "S");
        // A function's init is bounded by 10 s, as Lambda's; in the emulated host a Python init alone takes longer.
        env.put("FLICKER_INIT_TIMEOUT_SECONDS", Long.toString(Math.max(10, TestTime.scaled(Duration.ofSeconds(10)).toSeconds() / 4)));
        env.putAll(extraEnv);
        Path log = Path.of("target", "platform-" + port + "-" + System.nanoTime() + ".log");
        LOGS.put(port, log);
        Files.createDirectories(log.getParent());
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        Process p = pb.start();
        try (PlatformClient client = client(port)) {
            TestTime.await("the platform to answer on port " + port + " (its log: " + log + ")", Duration.ofSeconds(60), () -> {
                try {
                    client.lambda().listFunctions();
                    return true;
                } catch (SdkClientException | SdkServiceException e) {
                    // not listening, or not answering yet
                }
                if (!p.isAlive()) throw new IllegalStateException("the platform exited with " + p.exitValue() + "; its log: " + log);
                return null;
            });
        } catch (RuntimeException | AssertionError e) {
            p.destroyForcibly();
            throw e;
        }
        return p;
    }

    /** Waits until function {@code name} leaves Pending; it must be Active. */
    static void awaitActive(PlatformClient client, String name) {
        var conf = TestTime.await(name + " to leave Pending", Duration.ofSeconds(30), () -> {
            var c = client.lambda().getFunctionConfiguration(b -> b.functionName(name));
            return c.state() == State.PENDING ? null : c;
        });
        if (conf.state() != State.ACTIVE) throw new AssertionError(name + " did not become Active: " + conf);
    }

    /** Where the platform last started on {@code port} writes its output. */
    static Path log(int port) {
        return LOGS.get(port);
    }

    /** The CLI's client (the AWS SDK's LambdaClient, and signed calls to /admin), pointed at a platform on {@code port}. */
    static PlatformClient client(int port) {
        return PlatformClient.fromEnvironment(Map.of("FLICKER_ENDPOINT", "http://localhost:" + port));
    }
}
