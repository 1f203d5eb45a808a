package dev.flicker.api;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Base64;
import java.util.List;
import java.util.Set;

/**
 * The PostgreSQL that {@code ./flicker up} starts when no {@code FLICKER_DB_URL} is set: io.zonky's embedded
 * binaries, data in {@code <data>/postgres}. Only a client that knows its password logs in: the cluster is
 * initialised with {@code scram-sha-256} for every connection (TCP and the Unix socket), and the password, random
 * per data directory, is kept in {@code <data>/postgres.password} (mode 0600). The platform logs in as the role
 * {@code flicker}, which owns the database {@code flicker} and is not a superuser (so no {@code COPY ... PROGRAM}).
 * The binaries are unpacked under {@code <data>/postgres-bin} (0700), not into the shared, world-writable
 * {@code /tmp/embedded-pg} where another local user could plant their own programs for this one to run.
 */
final class EmbeddedDatabase implements AutoCloseable {
    static final String DATABASE = "flicker", ROLE = "flicker";
    static final String PASSWORD_FILE = "postgres.password";
    private static final Set<PosixFilePermission> OWNER_ONLY_FILE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");

    private final EmbeddedPostgres pg;
    private final String password;

    private EmbeddedDatabase(EmbeddedPostgres pg, String password) {
        this.pg = pg;
        this.password = password;
    }

    /** Starts (initialising on first use) the embedded PostgreSQL of {@code dataDir} on {@code port} of loopback. */
    static EmbeddedDatabase start(Path dataDir, int port) throws IOException, SQLException {
        Path pgData = dataDir.resolve("postgres");
        Path passwordFile = dataDir.resolve(PASSWORD_FILE);
        // io.zonky makes the directory it unpacks into writable by everyone (for a shared /tmp); inside a 0700 one,
        // nobody else can reach it.
        Path binaries = privateDirectory(dataDir.resolve("postgres-bin")).resolve("unpacked");
        boolean initialised = Files.exists(pgData.resolve("postgresql.conf"));
        // Data directories initialised before passwords existed trust every local connection: they get one now.
        boolean trusting = initialised && trusts(pgData.resolve("pg_hba.conf"));
        if (initialised && !trusting && !Files.exists(passwordFile)) {
            throw new IllegalStateException(passwordFile + " is missing: it holds the password of the embedded PostgreSQL in "
                    + pgData + ". Restore it, or move " + pgData + " away to start with an empty database");
        }
        String password = readOrCreatePassword(passwordFile);
        EmbeddedPostgres pg = EmbeddedPostgres.builder().setDataDirectory(pgData).setCleanDataDirectory(false).setPort(port)
                .setOverrideWorkingDirectory(binaries.toFile())
                // initdb's options: every connection authenticates with SCRAM; the superuser's password comes from the file.
                .setLocaleConfig("auth-host", "scram-sha-256").setLocaleConfig("auth-local", "scram-sha-256")
                .setLocaleConfig("pwfile", passwordFile.toString())
                .setServerConfig("listen_addresses", "localhost")
                .setConnectConfig("password", password)
                .start();
        EmbeddedDatabase db = new EmbeddedDatabase(pg, password);
        try {
            if (trusting) db.requirePasswords(pgData.resolve("pg_hba.conf"));
            db.createRoleAndDatabase();
        } catch (IOException | SQLException | RuntimeException e) {
            db.close();
            throw e;
        }
        return db;
    }

    int port() {
        return pg.getPort();
    }

    String password() {
        return password;
    }

    /** The URL the platform's data sources use ({@code FLICKER_DB_URL}'s form), with {@link #ROLE} and {@link #password()}. */
    String url() {
        return "postgresql://localhost:" + port() + "/" + DATABASE;
    }

    /** A data directory of its own user only: created 0700, and refused when another user owns it. */
    private static Path privateDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
        String owner = Files.getOwner(dir).getName();
        if (!owner.equals(System.getProperty("user.name"))) {
            throw new IllegalStateException(dir + " belongs to " + owner + ", not to " + System.getProperty("user.name")
                    + ": the embedded PostgreSQL's programs would run from a directory someone else controls");
        }
        Files.setPosixFilePermissions(dir, OWNER_ONLY_DIR);
        return dir;
    }

    /** The password in {@code file} (its first line), or a new random one written there, readable by this user only. */
    private static String readOrCreatePassword(Path file) throws IOException {
        if (!Files.exists(file)) {
            byte[] random = new byte[32];
            new SecureRandom().nextBytes(random);
            String password = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            Files.createDirectories(file.getParent());
            Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY_FILE));
            Files.writeString(file, password + "\n", StandardCharsets.US_ASCII);
        }
        Files.setPosixFilePermissions(file, OWNER_ONLY_FILE);
        String password = Files.readAllLines(file, StandardCharsets.US_ASCII).stream().findFirst().orElse("").strip();
        // Written into SQL below (ALTER ROLE takes no parameters), so only characters that need no quoting.
        if (!password.matches("[A-Za-z0-9_-]{16,}")) {
            throw new IllegalStateException(file + " does not hold a password this platform wrote (16 or more of A-Z a-z 0-9 _ -)");
        }
        return password;
    }

    /** True when some line of {@code pg_hba.conf} lets a client in without a password. */
    static boolean trusts(Path hba) throws IOException {
        for (String line : Files.readAllLines(hba)) {
            String rule = line.replaceAll("#.*", "").strip();
            if (!rule.isEmpty() && List.of(rule.split("\\s+")).contains("trust")) return true;
        }
        return false;
    }

    /**
     * A cluster initialised with {@code trust} (before this class asked initdb for passwords): the superuser gets
     * the password, then every rule of {@code pg_hba.conf} asks for it, and the server reloads its rules.
     */
    private void requirePasswords(Path hba) throws IOException, SQLException {
        try (Connection c = pg.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("SET password_encryption = 'scram-sha-256'");
            s.execute("ALTER ROLE postgres PASSWORD '" + password + "'");
            Files.writeString(hba, """
                    # Written by Flicker: every connection authenticates with the password in <data>/postgres.password.
                    local   all   all                  scram-sha-256
                    host    all   all   127.0.0.1/32   scram-sha-256
                    host    all   all   ::1/128        scram-sha-256
                    """);
            try (ResultSet r = s.executeQuery("SELECT pg_reload_conf()")) {
                r.next();
            }
        }
    }

    /** The platform's role (not a superuser) and its database; the role's password follows the file's. */
    private void createRoleAndDatabase() throws SQLException {
        try (Connection c = pg.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("SET password_encryption = 'scram-sha-256'");
            boolean roleExists = exists(s, "SELECT 1 FROM pg_roles WHERE rolname = '" + ROLE + "'");
            s.execute((roleExists ? "ALTER" : "CREATE") + " ROLE " + ROLE + " LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD '"
                    + password + "'");
            if (!exists(s, "SELECT 1 FROM pg_database WHERE datname = '" + DATABASE + "'")) {
                s.execute("CREATE DATABASE " + DATABASE + " OWNER " + ROLE);
            }
        }
    }

    private static boolean exists(Statement s, String query) throws SQLException {
        try (ResultSet r = s.executeQuery(query)) {
            return r.next();
        }
    }

    @Override
    public void close() throws IOException {
        pg.close();
    }
}
