package dev.flicker.api;

import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.StampedLock;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Code bundles, content-addressed: a zip is unpacked once into {@code <data>/code/<sha256>/} and shared by every
 * function that deploys the same bytes. Zips are untrusted, so:
 * <ul>
 *   <li>the zip is decoded from the request into a file as it is read ({@link Upload}, at most 50 MB, Lambda's limit
 *       for a zip in the request), never held whole in memory;</li>
 *   <li>its entries are checked from the zip's directory before anything is written: names (no absolute paths, no
 *       {@code ..}, no control characters, none that is both a file and a directory or twice a file), at most
 *       10,000 entries, at most 250 MB unzipped as declared (Lambda's limit); then written to disk as they inflate,
 *       in 64 KB pieces, with the 250 MB counted again on what actually comes out;</li>
 *   <li>at most {@code flicker.code.concurrent-unzips} zips are unpacked at once;</li>
 *   <li>code that no function or version uses any more is deleted ({@link #collectGarbage}), after updates, deletes
 *       and creates that failed, and at start.</li>
 * </ul>
 */
@ApplicationScoped
public class CodeStore {
    private static final Logger LOG = Logger.getLogger(CodeStore.class);
    static final long MAX_ZIP_BYTES = 50L << 20;        // Lambda's limit for a zip uploaded in the request
    static final long MAX_UNZIPPED_BYTES = 250L << 20;  // Lambda's limit for unzipped code
    static final int MAX_ENTRIES = 10_000;
    static final int MAX_NAME_CHARS = 1024;
    static final int MAX_NAME_SEGMENT_BYTES = 255;      // Linux's NAME_MAX
    static final long UNZIP_WAIT_SECONDS = 60;
    private static final Pattern CODE_DIR_NAME = Pattern.compile("[0-9a-f]{64}");
    private static final Set<PosixFilePermission> CODE_FILE = PosixFilePermissions.fromString("rwxr--r--");

    private final Path root;
    private final Pool db;
    private final Semaphore unzips;
    /**
     * Code being deployed holds the read lock from {@link #store} until its row is committed ({@link Stored#close});
     * a collection holds the write lock while it decides what is unused, so it never takes code that is about to
     * be referenced. A StampedLock, as its read lock may be released on another thread than the one that took it (a
     * request's steps run on whichever worker is free).
     */
    private final StampedLock deploying = new StampedLock();
    private final ExecutorService collector = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("code-gc").daemon().factory());
    private final AtomicBoolean collectionPending = new AtomicBoolean();

    public CodeStore(@ConfigProperty(name = "flicker.data-dir") Path dataDir, Pool db,
                     @ConfigProperty(name = "flicker.code.concurrent-unzips") int concurrentUnzips) {
        this.root = dataDir.resolve("code");
        this.db = db;
        this.unzips = new Semaphore(concurrentUnzips, true);
    }

    /** What uploads and unpacking left when the platform stopped goes; so does code nothing uses. */
    void onStart(@Observes StartupEvent event) {
        deleteTree(uploads());
        collectGarbage();
    }

    /** Zips being received, one file each; emptied at every start. */
    private Path uploads() {
        return root.resolve(".uploads");
    }

    /**
     * The directory of stored code, from a {@code code_dir} column: only its last name counts, and it must be a
     * content hash, so that a row can never point a function at another directory of the host.
     */
    Path directory(String codeDir) {
        Path name = Path.of(codeDir).getFileName();
        if (name == null || !CODE_DIR_NAME.matcher(name.toString()).matches()) {
            throw new IllegalStateException("a stored code directory is not one of the code store's: " + codeDir);
        }
        return root.resolve(name.toString());
    }

    Path root() {
        return root;
    }

    /** A new zip to receive; closing it deletes its file. */
    Upload newUpload() {
        try {
            Files.createDirectories(uploads());
            return new Upload(uploads().resolve(UUID.randomUUID() + ".zip"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create an upload file", e);
        }
    }

    /** A zip as it is received: written to its file, hashed and counted; refused past {@link #MAX_ZIP_BYTES}. */
    static final class Upload extends OutputStream {
        private final Path file;
        private final OutputStream out;
        private final MessageDigest sha256;
        private long bytes;
        private boolean received;

        private Upload(Path file) throws IOException {
            this.file = file;
            this.out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            this.sha256 = Sha256.digest();
        }

        /** Marks the start of the zip's bytes; a request that names its zip twice is refused. */
        void begin(String field) {
            if (received) throw LambdaError.invalid(field + " is given twice");
            received = true;
        }

        boolean received() {
            return received;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            bytes += len;
            if (bytes > MAX_ZIP_BYTES) {
                throw LambdaError.tooLarge("The zip is larger than " + MAX_ZIP_BYTES + " bytes, Lambda's limit for a zip in the request");
            }
            sha256.update(b, off, len);
            out.write(b, off, len);
        }

        /** Deletes the file. */
        @Override
        public void close() {
            try {
                out.close();
                Files.deleteIfExists(file);
            } catch (IOException e) {
                LOG.warnf("cannot delete the upload %s: %s", file, e.getMessage());
            }
        }
    }

    /**
     * Stored code: its directory, the SHA-256 of the zip (base64, as Lambda reports it) and the zip's size. Until it is
     * closed (on the thread that stored it), the code is not collected as garbage: close it once the row that uses it
     * is committed, or the create failed.
     */
    public static final class Stored implements AutoCloseable {
        private final Path directory;
        private final String sha256Base64;
        private final long zipBytes;
        private final Lock pin;
        private boolean closed;

        private Stored(Path directory, String sha256Base64, long zipBytes, Lock pin) {
            this.directory = directory;
            this.sha256Base64 = sha256Base64;
            this.zipBytes = zipBytes;
            this.pin = pin;
        }

        public Path directory() {
            return directory;
        }

        public String sha256Base64() {
            return sha256Base64;
        }

        public long zipBytes() {
            return zipBytes;
        }

        @Override
        public void close() {
            if (!closed) pin.unlock();
            closed = true;
        }
    }

    /** Unpacks {@code upload} into the store, unless the same zip is there already. */
    public Stored store(Upload upload) {
        if (!upload.received()) throw new IllegalStateException("no zip was received");
        try {
            upload.out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the upload", e);
        }
        byte[] digest = upload.sha256.digest();
        Path dir = root.resolve(Sha256.hex(digest));
        Lock pin = deploying.asReadLock();
        pin.lock();
        try {
            if (!Files.isDirectory(dir)) unpack(upload.file, dir);
            return new Stored(dir, Base64.getEncoder().encodeToString(digest), upload.bytes, pin);
        } catch (RuntimeException e) {
            pin.unlock();
            throw e;
        }
    }

    void unpack(Path zipFile, Path dir) {
        try {
            if (!unzips.tryAcquire(UNZIP_WAIT_SECONDS, TimeUnit.SECONDS)) {
                throw LambdaError.throttled("CallerRateLimitExceeded", "Too many zips are being unpacked at once; try again");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LambdaError(500, "ServiceException", "interrupted while waiting to unpack the zip");
        }
        Path tmp = root.resolve(".tmp-" + UUID.randomUUID());
        try {
            Files.createDirectories(tmp);
            try (ZipFile zip = new ZipFile(zipFile.toFile(), StandardCharsets.UTF_8)) {
                extract(zip, plan(zip), tmp);
            } catch (ZipException | IllegalArgumentException e) { // IllegalArgumentException: a name that is not UTF-8
                throw LambdaError.invalid("Code.ZipFile is not a valid zip: " + e.getMessage());
            }
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileSystemException e) {
                // rename(2) onto a directory that is there now fails with ENOTEMPTY, which the JDK reports as a plain
                // FileSystemException: the same bytes, unpacked meanwhile by another request, and that copy serves both.
                if (!Files.isDirectory(dir)) throw e;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store code", e);
        } finally {
            deleteTree(tmp);
            unzips.release();
        }
    }

    /** What a zip holds, checked from its central directory before a byte is written: path → is a directory. */
    private record Plan(Map<String, Boolean> paths, List<ZipEntry> files, List<String> filePaths) {}

    private static Plan plan(ZipFile zip) {
        Map<String, Boolean> paths = new LinkedHashMap<>();
        List<ZipEntry> files = new ArrayList<>();
        List<String> filePaths = new ArrayList<>();
        long declaredBytes = 0;
        int entries = 0;
        for (var it = zip.entries().asIterator(); it.hasNext(); ) {
            ZipEntry e = it.next();
            if (++entries > MAX_ENTRIES) throw LambdaError.invalid("the zip has more than " + MAX_ENTRIES + " entries");
            boolean isDirectory = e.isDirectory();
            List<String> segments = segments(e.getName());
            if (segments.isEmpty()) {
                if (isDirectory) continue; // "./": the bundle's root itself
                throw LambdaError.invalid("the zip entry '" + e.getName() + "' names the bundle's root, not a file in it");
            }
            for (int i = 1; i < segments.size(); i++) {
                String parent = String.join("/", segments.subList(0, i));
                if (Boolean.FALSE.equals(paths.putIfAbsent(parent, true))) {
                    throw LambdaError.invalid("the zip entry '" + e.getName() + "' is inside '" + parent + "', which the zip has as a file");
                }
            }
            String path = String.join("/", segments);
            Boolean before = paths.putIfAbsent(path, isDirectory);
            if (before != null && !(before && isDirectory)) {
                throw LambdaError.invalid(before == isDirectory ? "the zip has '" + path + "' twice"
                        : "the zip has '" + path + "' both as a file and as a directory");
            }
            if (!isDirectory) {
                declaredBytes += Math.max(0, e.getSize());
                files.add(e);
                filePaths.add(path);
            }
        }
        if (entries == 0) throw LambdaError.invalid("Code.ZipFile is an empty zip");
        if (declaredBytes > MAX_UNZIPPED_BYTES) throw unzippedTooLarge();
        return new Plan(paths, files, filePaths);
    }

    /**
     * An entry's path as segments below the bundle's root: "." and empty segments dropped; refused when absolute,
     * with "..", with a control character, or too long for the file system.
     */
    static List<String> segments(String name) {
        if (Params.hasControlCharacters(name, false)) throw LambdaError.invalid("a zip entry's name holds a control character");
        if (name.length() > MAX_NAME_CHARS) throw LambdaError.invalid("a zip entry's name is longer than " + MAX_NAME_CHARS + " characters");
        if (name.startsWith("/")) throw LambdaError.invalid("the zip entry '" + name + "' is an absolute path: entries may not point outside the bundle");
        List<String> segments = new ArrayList<>();
        for (String s : name.split("/")) {
            if (s.isEmpty() || s.equals(".")) continue;
            if (s.equals("..")) throw LambdaError.invalid("the zip entry '" + name + "' has '..': entries may not point outside the bundle");
            if (s.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_SEGMENT_BYTES) {
                throw LambdaError.invalid("the zip entry '" + name + "' has a name longer than " + MAX_NAME_SEGMENT_BYTES + " bytes");
            }
            segments.add(s);
        }
        return segments;
    }

    private static LambdaError unzippedTooLarge() {
        return LambdaError.invalid("the unzipped code is larger than " + MAX_UNZIPPED_BYTES + " bytes (250 MB, Lambda's limit)");
    }

    /** Writes the planned directories and files under {@code into}, counting what inflates against the limit. */
    private static void extract(ZipFile zip, Plan plan, Path into) throws IOException {
        for (var p : plan.paths().entrySet()) if (p.getValue()) Files.createDirectories(into.resolve(p.getKey()));
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        for (int i = 0; i < plan.files().size(); i++) {
            Path target = into.resolve(plan.filePaths().get(i));
            try (InputStream in = zip.getInputStream(plan.files().get(i));
                 OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                for (int n; (n = in.read(buffer)) > 0; ) {
                    total += n;
                    if (total > MAX_UNZIPPED_BYTES) throw unzippedTooLarge(); // sizes in the directory may lie
                    out.write(buffer, 0, n);
                }
            }
            // Zips from Lambda users rarely carry Unix modes; the bootstrap must be executable anyway.
            Files.setPosixFilePermissions(target, CODE_FILE);
        }
    }

    /** Asks for a collection of unused code, soon, on the collector's thread; requests meanwhile are one. */
    void collectGarbage() {
        if (!collectionPending.compareAndSet(false, true)) return;
        collector.execute(() -> {
            collectionPending.set(false);
            try {
                collectNow();
            } catch (RuntimeException e) {
                LOG.warn("collecting unused code failed: " + e.getMessage());
            }
        });
    }

    /** Deletes code no function or version uses, and what interrupted uploads left; returns what it deleted. */
    List<String> collectNow() {
        List<Path> doomed = new ArrayList<>();
        deploying.asWriteLock().lock();
        try {
            if (!Files.isDirectory(root)) return List.of();
            Set<String> used = usedCodeDirectories();
            try (var entries = Files.list(root)) {
                for (Path p : entries.toList()) {
                    String name = p.getFileName().toString();
                    boolean leftover = name.startsWith(".tmp-") || name.startsWith(".trash-");
                    boolean unused = CODE_DIR_NAME.matcher(name).matches() && !used.contains(name);
                    if (!leftover && !unused) continue;
                    // Out of the way while deploys wait; the slow delete happens after they may go on.
                    Path trash = root.resolve(".trash-" + UUID.randomUUID());
                    Files.move(p, trash, StandardCopyOption.ATOMIC_MOVE);
                    doomed.add(trash);
                    if (unused) LOG.infof("deleting unused code %s", name);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + root, e);
            }
        } finally {
            deploying.asWriteLock().unlock();
        }
        List<String> deleted = new ArrayList<>();
        for (Path p : doomed) {
            deleteTree(p);
            deleted.add(p.getFileName().toString());
        }
        return deleted;
    }

    /** The names of the code directories that stored functions and versions use. */
    private Set<String> usedCodeDirectories() {
        Set<String> used = new HashSet<>();
        // On the collector's own thread, which may wait.
        for (Row r : db.preparedQuery("SELECT code_dir FROM functions UNION SELECT code_dir FROM function_versions").execute()
                .await().atMost(Duration.ofSeconds(30))) {
            Path name = Path.of(r.getString(0)).getFileName();
            if (name != null) used.add(name.toString());
        }
        return used;
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.warnf("cannot delete %s: %s", dir, e.getMessage());
        }
    }
}
