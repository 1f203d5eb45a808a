package dev.flicker.deploy;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Fixture: the packaged platform as a child process on its own port and data directory, with PostgreSQL
 * 'flicker_it' (or the database the system property {@code flicker.it.db} names, for a run beside another).
 */
final class PlatformProcess {
    static final Path PLATFORM = Path.of("../platform-api/target/quarkus-app/quarkus-run.jar");
    static final String DATABASE = System.getProperty("flicker.it.db", "flicker_it");
    private static final java.util.Map<Integer, Path> LOGS = new java.util.concurrent.ConcurrentHashMap<>();

    private PlatformProcess() {}

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static Process start(Path dataDir, int port) throws Exception {
        if (!Files.isRegularFile(PLATFORM)) throw new IllegalStateException(PLATFORM.toAbsolutePath() + " is missing: build platform-api first");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-jar", PLATFORM.toString());
        Map<String, String> env = pb.environment();
        env.put("FLICKER_PORT", Integer.toString(port));
        env.put("FLICKER_DATA_DIR", dataDir.toString());
        env.put("FLICKER_DB_URL", "postgresql://localhost:5432/" + DATABASE);
        env.put("FLICKER_ASYNC_WORKERS", "1");
        env.put("FLICKER_ASYNC_BACKOFF_MILLIS", "50");
        Path log = Path.of("target", "platform-" + port + "-" + System.nanoTime() + ".log");
        LOGS.put(port, log);
        Files.createDirectories(log.getParent());
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        Process p = pb.start();
        for (int i = 0; i < 300; i++) {
            try {
                if (get(port, "/2015-03-31/functions").statusCode() == 200) return p;
            } catch (IOException e) {
                // not listening yet
            }
            if (!p.isAlive()) throw new IllegalStateException("the platform exited with " + p.exitValue());
            Thread.sleep(100);
        }
        throw new IllegalStateException("the platform did not start on port " + port);
    }

    /** Where the platform last started on {@code port} writes its output. */
    static Path log(int port) {
        return LOGS.get(port);
    }

    /** The CLI's signed client, pointed at a platform on {@code port} with the default credentials. */
    static PlatformClient client(int port) {
        return PlatformClient.fromEnvironment(Map.of("FLICKER_ENDPOINT", "http://localhost:" + port));
    }

    static HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return client(port).call("GET", path, null, Map.of());
    }

    static HttpResponse<String> post(int port, String path, String body, String invocationType) throws IOException, InterruptedException {
        return client(port).call("POST", path, body, invocationType == null ? Map.of() : Map.of("X-Amz-Invocation-Type", invocationType));
    }
}
