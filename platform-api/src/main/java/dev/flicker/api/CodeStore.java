package dev.flicker.api;

import jakarta.enterprise.context.ApplicationScoped;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Set;
import java.util.UUID;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipInputStream;

/**
 * Code bundles, content-addressed: a zip is unpacked once into {@code <data>/code/<sha256>/} and shared by
 * every function that deploys the same bytes. Zips are untrusted: entries may not leave the directory, and
 * sizes are bounded.
 */
@ApplicationScoped
public class CodeStore {
    static final long MAX_UNZIPPED_BYTES = 250L << 20; // Lambda's limit for unzipped code
    private final Path root;

    public CodeStore(Engine engine) {
        this.root = engine.dataDir().resolve("code");
    }

    /** A stored bundle: its directory, the SHA-256 of the zip (base64, as Lambda reports it) and its size. */
    public record Stored(Path directory, String sha256Base64, long zipBytes) {}

    public Stored store(byte[] zip) {
        byte[] digest = sha256(zip);
        Path dir = root.resolve(HexFormat.of().formatHex(digest));
        try {
            if (!Files.isDirectory(dir)) {
                Path tmp = root.resolve(".tmp-" + UUID.randomUUID());
                Files.createDirectories(tmp);
                try {
                    unzip(zip, tmp);
                    if (!Files.isRegularFile(tmp.resolve("bootstrap"))) {
                        throw LambdaError.invalid("the zip has no 'bootstrap' at its top level: a provided runtime needs one");
                    }
                    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    deleteTree(tmp);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store code", e);
        }
        return new Stored(dir, Base64.getEncoder().encodeToString(digest), zip.length);
    }

    private static void unzip(byte[] zip, Path into) throws IOException {
        long total = 0;
        int entries = 0;
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
            ZipEntry e;
            while ((e = in.getNextEntry()) != null) {
                if (++entries > 10_000) throw LambdaError.invalid("the zip has more than 10,000 entries");
                Path target = into.resolve(e.getName()).normalize();
                if (!target.startsWith(into) || e.getName().startsWith("/")) {
                    throw LambdaError.invalid("the zip entry '" + e.getName() + "' points outside the bundle");
                }
                if (e.isDirectory()) {
                    Files.createDirectories(target);
                    continue;
                }
                Files.createDirectories(target.getParent());
                byte[] data = in.readNBytes((int) Math.min(MAX_UNZIPPED_BYTES - total + 1, Integer.MAX_VALUE - 16));
                total += data.length;
                if (total > MAX_UNZIPPED_BYTES) throw LambdaError.invalid("the unzipped code is larger than 250 MB");
                Files.write(target, data);
                // Zips from Lambda users rarely carry Unix modes; the bootstrap must be executable anyway.
                Files.setPosixFilePermissions(target, Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                        PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ));
            }
        } catch (ZipException e) {
            throw LambdaError.invalid("Code.ZipFile is not a valid zip: " + e.getMessage());
        }
        if (entries == 0) throw LambdaError.invalid("Code.ZipFile is not a zip or is empty");
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
