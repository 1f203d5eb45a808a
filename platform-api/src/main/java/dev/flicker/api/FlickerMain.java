package dev.flicker.api;

import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Starts the platform. With no {@code FLICKER_DB_URL}, it first starts an embedded PostgreSQL (a real one,
 * run from the JVM, {@link EmbeddedDatabase}) with its data under the data directory, so {@code ./flicker up}
 * works on a bare machine.
 */
@QuarkusMain
public class FlickerMain {
    static final int DEFAULT_EMBEDDED_PORT = 54329;

    public static void main(String... args) throws Exception {
        if (System.getenv("FLICKER_DB_URL") == null && System.getProperty("FLICKER_DB_URL") == null) {
            try {
                startEmbeddedPostgres();
            } catch (IllegalArgumentException | IllegalStateException e) {
                System.err.println("flicker: " + e.getMessage()); // a setting to fix, not a bug: no stack trace
                System.exit(2);
            }
        }
        Quarkus.run(args);
    }

    /** {@code FLICKER_EMBEDDED_PG_PORT}, or 54329; refused with a clear message when something else listens there. */
    private static int embeddedPort() {
        String configured = System.getenv("FLICKER_EMBEDDED_PG_PORT");
        int port;
        try {
            port = configured == null ? DEFAULT_EMBEDDED_PORT : Integer.parseInt(configured);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("FLICKER_EMBEDDED_PG_PORT must be a port number, was '" + configured + "'");
        }
        try (java.net.ServerSocket probe = new java.net.ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
            return port;
        } catch (IOException e) {
            throw new IllegalStateException("port " + port + " for the embedded PostgreSQL is taken (is another "
                    + "./flicker up running?): set FLICKER_EMBEDDED_PG_PORT, or FLICKER_DB_URL to use a PostgreSQL server");
        }
    }

    private static void startEmbeddedPostgres() throws IOException, java.sql.SQLException {
        Path dataDir = Path.of(System.getenv().getOrDefault("FLICKER_DATA_DIR",
                System.getProperty("user.home") + "/.local/share/flicker"));
        EmbeddedDatabase db = EmbeddedDatabase.start(dataDir, embeddedPort());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                db.close();
            } catch (IOException e) {
                System.err.println("flicker: embedded PostgreSQL did not stop cleanly: " + e.getMessage());
            }
        }));
        System.setProperty("FLICKER_DB_URL", db.url());
        System.setProperty("FLICKER_DB_USER", EmbeddedDatabase.ROLE);
        System.setProperty("FLICKER_DB_PASSWORD", db.password());
        System.err.println("flicker: embedded PostgreSQL on port " + db.port() + ", data in " + dataDir.resolve("postgres")
                + ", password in " + dataDir.resolve(EmbeddedDatabase.PASSWORD_FILE));
    }
}
