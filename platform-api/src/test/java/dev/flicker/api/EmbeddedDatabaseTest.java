package dev.flicker.api;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The embedded PostgreSQL of {@code ./flicker up} lets in only a client with its password, and never as a superuser. */
class EmbeddedDatabaseTest {
    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static Connection connect(int port, String database, String user, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        if (password != null) p.setProperty("password", password);
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + port + "/" + database, p);
    }

    static String one(Connection c, String query) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(query)) {
            assertTrue(r.next(), query);
            return r.getString(1);
        }
    }

    /** What a fresh or an upgraded data directory must refuse and allow. */
    static void assertOnlyThePasswordLetsIn(Path dataDir, EmbeddedDatabase db) throws Exception {
        Path passwordFile = dataDir.resolve(EmbeddedDatabase.PASSWORD_FILE);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(passwordFile)));
        assertEquals(db.password(), Files.readString(passwordFile).strip());
        assertTrue(db.password().length() >= 40, "a random password, not a word: " + db.password().length() + " characters");
        assertFalse(EmbeddedDatabase.trusts(dataDir.resolve("postgres/pg_hba.conf")), Files.readString(dataDir.resolve("postgres/pg_hba.conf")));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir.resolve("postgres-bin"))));

        int port = db.port();
        for (String user : new String[] {"postgres", "flicker"}) {
            assertThrows(SQLException.class, () -> connect(port, "postgres", user, null).close(), user + " without a password");
            assertThrows(SQLException.class, () -> connect(port, "postgres", user, "flicker").close(), user + " with the old password");
        }
        try (Connection c = connect(port, EmbeddedDatabase.DATABASE, EmbeddedDatabase.ROLE, db.password())) {
            assertEquals("off", one(c, "SHOW is_superuser"));
            // What a superuser could do with the database's access: run a command on the host.
            SQLException denied = assertThrows(SQLException.class, () -> one(c, "COPY (SELECT 1) TO PROGRAM 'true'"));
            assertTrue(denied.getMessage().contains("permission denied") || denied.getMessage().contains("must be superuser"),
                    denied.getMessage());
        }
    }

    @Test
    void aNewDataDirectoryAsksEveryClientForThePassword(@TempDir Path dataDir) throws Exception {
        String password;
        try (EmbeddedDatabase db = EmbeddedDatabase.start(dataDir, freePort())) {
            assertOnlyThePasswordLetsIn(dataDir, db);
            password = db.password();
            try (Connection c = connect(db.port(), EmbeddedDatabase.DATABASE, EmbeddedDatabase.ROLE, password);
                 Statement s = c.createStatement()) {
                s.execute("CREATE TABLE kept (x int)");
            }
        }
        // A restart keeps the password and the data.
        try (EmbeddedDatabase again = EmbeddedDatabase.start(dataDir, freePort())) {
            assertEquals(password, again.password());
            try (Connection c = connect(again.port(), EmbeddedDatabase.DATABASE, EmbeddedDatabase.ROLE, password)) {
                assertEquals("0", one(c, "SELECT count(*) FROM kept"));
            }
        }
    }

    @Test
    void aDataDirectoryThatTrustedEveryoneGetsAPassword(@TempDir Path dataDir) throws Exception {
        // How the platform initialised its database before: initdb -A trust, a 'flicker' role with password 'flicker'.
        try (EmbeddedPostgres old = EmbeddedPostgres.builder().setDataDirectory(dataDir.resolve("postgres"))
                .setCleanDataDirectory(false).setOverrideWorkingDirectory(dataDir.resolve("old-bin").toFile())
                .setPort(freePort()).start();
             Connection c = old.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE ROLE flicker LOGIN PASSWORD 'flicker'");
            s.execute("CREATE DATABASE flicker OWNER flicker");
        }
        assertTrue(EmbeddedDatabase.trusts(dataDir.resolve("postgres/pg_hba.conf")));
        try (EmbeddedDatabase db = EmbeddedDatabase.start(dataDir, freePort())) {
            assertOnlyThePasswordLetsIn(dataDir, db);
        }
    }

    @Test
    void aLostPasswordFileIsAClearError(@TempDir Path dataDir) throws Exception {
        try (EmbeddedDatabase db = EmbeddedDatabase.start(dataDir, freePort())) {
            assertTrue(db.port() > 0);
        }
        Files.delete(dataDir.resolve(EmbeddedDatabase.PASSWORD_FILE));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> EmbeddedDatabase.start(dataDir, freePort()));
        assertTrue(e.getMessage().contains("postgres.password is missing"), e.getMessage());
    }
}
