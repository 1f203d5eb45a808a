package dev.flicker.deploy;

import software.amazon.awssdk.core.exception.SdkClientException;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The packaged platform as a child process, as {@code ./flicker up} runs it (embedded PostgreSQL, a fresh data
 * directory), for the benchmarks that measure it from outside: on a free loopback port, with its log in the data
 * directory, stopped on close.
 */
final class PackagedPlatform implements AutoCloseable {
    static final Path JAR = Path.of("platform-api/target/quarkus-app/quarkus-run.jar");

    private final Process process;
    private final Path dataDir;
    private final PlatformClient client;

    private PackagedPlatform(Process process, Path dataDir, PlatformClient client) {
        this.process = process;
        this.dataDir = dataDir;
        this.client = client;
    }

    /** Starts the platform with {@code env} added to its environment and {@code jvmOptions} before {@code -jar}. */
    static PackagedPlatform start(Map<String, String> env, List<String> jvmOptions) throws Exception {
        if (!Files.isRegularFile(JAR)) throw new IllegalStateException(JAR + " is missing: run ./flicker bench from the checkout (it builds it)");
        Path data = Files.createTempDirectory("flicker-bench-platform");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED"));
        command.addAll(platformJavaOptions());
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", JAR.toString()));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("FLICKER_PORT", Integer.toString(port));
        pb.environment().put("FLICKER_DATA_DIR", data.toString());
        pb.environment().remove("FLICKER_DB_URL"); // embedded PostgreSQL, as ./flicker up
        pb.environment().putAll(env);
        pb.redirectErrorStream(true).redirectOutput(data.resolve("platform.log").toFile());
        Process process = pb.start();
        PlatformClient client = new PlatformClient(URI.create("http://localhost:" + port), "flicker", "flicker-local-secret");
        PackagedPlatform platform = new PackagedPlatform(process, data, client);
        try {
            platform.awaitUp();
        } catch (Exception e) {
            platform.close();
            throw e;
        }
        return platform;
    }

    /**
     * The platform JVM's options as {@code ./flicker up} gives them ({@code FLICKER_JAVA_OPTIONS}, which the launcher
     * sets), so that a benchmark measures the platform as it runs; G1 alone when run without the launcher.
     */
    static List<String> platformJavaOptions() {
        String options = System.getenv("FLICKER_JAVA_OPTIONS");
        if (options == null || options.isBlank()) return List.of("-XX:+UseG1GC");
        return List.of(options.strip().split("\\s+"));
    }

    PlatformClient client() {
        return client;
    }

    boolean isAlive() {
        return process.isAlive();
    }

    Path log() {
        return dataDir.resolve("platform.log");
    }

    private void awaitUp() throws Exception {
        for (int i = 0; i < 600; i++) {
            try {
                client.lambda().listFunctions();
                return;
            } catch (SdkClientException e) {
                // not listening yet
            }
            if (!process.isAlive()) throw new IllegalStateException("the platform exited; its log: " + log());
            Thread.sleep(100);
        }
        throw new IllegalStateException("the platform did not start within 60 s; its log: " + log());
    }

    /** The platform's process id, to read where its CPU goes ({@link ThreadCpu}). */
    long pid() {
        return process.pid();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        client.close();
        process.destroy();
        process.waitFor();
    }
}
