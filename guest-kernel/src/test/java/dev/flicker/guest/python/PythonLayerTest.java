package dev.flicker.guest.python;

import dev.flicker.guest.NativeCommand;
import dev.flicker.kvm.Sha256;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The python3.11 runtime layer built from Debian 12's packages (runtimes/python3.11/build.sh): cached by content
 * hash, flattened (no symbolic links, an ld.so.cache), precompiled, and its interpreter and standard library
 * working when run natively from the tree.
 */
class PythonLayerTest {
    @Test
    void aSecondBuildWithTheSamePinsDoesNothingAndSaysWhereTheTreeIs() throws IOException {
        Path root = PythonLayer.root().toRealPath();
        NativeCommand.Result r = NativeCommand.run(PythonLayer.LIMIT,
                List.of("bash", PythonLayer.SCRIPTS.resolve("build.sh").toString(), PythonLayer.OUTPUT.toString()));
        assertEquals(0, r.exitStatus(), r::toString);
        assertEquals("python3.11 layer: up to date at " + root + "\n", r.output());
        assertTrue(root.getParent().getFileName().toString().matches("python3\\.11-[0-9a-f]{16}"), root::toString);
    }

    @Test
    void theStandardLibraryWorksFromTheTree() throws Exception {
        String program = """
                import json, re, datetime, zoneinfo, hashlib, hmac, base64, decimal, sqlite3, urllib.parse, http.client, ssl, uuid, random, os
                db = sqlite3.connect(":memory:")
                db.execute("create table t (x)")
                db.execute("insert into t values (41)")
                berlin = zoneinfo.ZoneInfo("Europe/Berlin")
                print(json.dumps({
                    "json": json.loads('{"a": [1, 2]}')["a"],
                    "re": re.sub(r"(\\w+)@(\\w+)", r"\\2 at \\1", "ada@example"),
                    "summer": datetime.datetime(2024, 7, 1, 12, tzinfo=berlin).utcoffset().total_seconds(),
                    "winter": datetime.datetime(2024, 1, 1, 12, tzinfo=berlin).utcoffset().total_seconds(),
                    "sha256": hashlib.sha256(b"flicker").hexdigest(),
                    "hmac": hmac.new(b"key", b"message", "sha256").hexdigest(),
                    "base64": base64.b64encode(b"flicker").decode(),
                    "decimal": str(decimal.Decimal("1.1") + decimal.Decimal("2.2")),
                    "sqlite": db.execute("select x + 1 from t").fetchone()[0],
                    "query": urllib.parse.urlsplit("https://example.com/a?b=c").query,
                    "http": http.client.responses[404],
                    "openssl": ssl.OPENSSL_VERSION.split()[0],
                    "cas": ssl.create_default_context().cert_store_stats()["x509_ca"],
                    "uuid": uuid.uuid4().version,
                    "random": 0 <= random.random() < 1,
                    "urandom": len(os.urandom(16)),
                }, sort_keys=True))
                """;
        NativeCommand.Result r = PythonLayer.python(Map.of(), "-c", program);
        assertEquals(0, r.exitStatus(), r::toString);
        String sha256 = Sha256.hex("flicker".getBytes(StandardCharsets.UTF_8));
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec("key".getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        String hmac = HexFormat.of().formatHex(mac.doFinal("message".getBytes(StandardCharsets.UTF_8)));
        long cas;
        try (Stream<String> lines = Files.lines(PythonLayer.root().resolve("etc/ssl/certs/ca-certificates.crt"))) {
            cas = lines.filter(l -> l.equals("-----BEGIN CERTIFICATE-----")).count();
        }
        assertTrue(cas > 100, "the layer's CA bundle holds " + cas + " certificates");
        assertEquals("{\"base64\": \"ZmxpY2tlcg==\", \"cas\": " + cas + ", \"decimal\": \"3.3\", \"hmac\": \"" + hmac
                + "\", \"http\": \"Not Found\", \"json\": [1, 2], \"openssl\": \"OpenSSL\", \"query\": \"b=c\", "
                + "\"random\": true, \"re\": \"example at ada\", \"sha256\": \"" + sha256 + "\", \"sqlite\": 42, "
                + "\"summer\": 7200.0, \"urandom\": 16, \"uuid\": 4, \"winter\": 3600.0}\n", r.output());
    }

    /** Every C module the layer ships imports: each one's libraries are in the layer. */
    @Test
    void everyLibDynloadModuleImports() throws IOException {
        List<String> modules;
        try (Stream<Path> files = Files.list(PythonLayer.root().resolve("usr/lib/python3.11/lib-dynload"))) {
            modules = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cpython-311-x86_64-linux-gnu.so"))
                    .map(n -> n.substring(0, n.indexOf('.'))).sorted().toList();
        }
        assertTrue(modules.size() >= 40, modules::toString);
        NativeCommand.Result r = PythonLayer.python(Map.of(), Stream.concat(Stream.of("-c", """
                import importlib, sys
                failed = []
                for name in sys.argv[1:]:
                    try:
                        importlib.import_module(name)
                    except Exception as e:
                        failed.append(f"{name}: {e}")
                print(len(sys.argv) - 1, "imported", failed)
                """), modules.stream()).toArray(String[]::new));
        assertEquals(0, r.exitStatus(), r::toString);
        assertEquals(modules.size() + " imported []\n", r.output());
    }

    /** Modules whose libraries the layer leaves out on purpose are absent, not broken. */
    @Test
    void leftOutModulesAreCleanlyMissing() {
        NativeCommand.Result r = PythonLayer.python(Map.of(), "-c", """
                for name in ("nis", "_dbm"):
                    try:
                        __import__(name)
                    except ModuleNotFoundError as e:
                        print("missing", e.name)
                import dbm
                print(dbm.whichdb.__module__)
                """);
        assertEquals(0, r.exitStatus(), r::toString);
        assertEquals("missing nis\nmissing _dbm\ndbm\n", r.output());
    }

    @Test
    void theTreeIsFlatReadOnlyAndPrecompiled() throws IOException {
        Path root = PythonLayer.root();
        try (Stream<Path> all = Files.walk(root)) {
            List<Path> links = all.filter(Files::isSymbolicLink).toList();
            assertEquals(List.of(), links, "the guest's file tree has no symbolic links");
        }
        try (Stream<Path> all = Files.walk(root)) {
            List<Path> writable = all.filter(Files::isRegularFile).filter(PythonLayerTest::hasAWriteBit).limit(5).toList();
            assertEquals(List.of(), writable, "every file of the layer is read-only");
        }
        assertTrue(Files.isRegularFile(root.resolve("etc/ld.so.cache")));
        assertTrue(Files.isRegularFile(root.resolve("lib64/ld-linux-x86-64.so.2")), "PT_INTERP of the interpreter");
        assertTrue(Files.isRegularFile(root.resolve("var/runtime/bootstrap.py")));
        for (String gone : List.of("usr/share/doc", "usr/share/man", "usr/lib/x86_64-linux-gnu/gconv", "usr/lib/python3.11/test",
                "usr/share/zoneinfo/right", "usr/lib/python3.11/sitecustomize.py")) {
            assertFalse(Files.exists(root.resolve(gone)), gone + " is stripped");
        }
        // An unchecked-hash .pyc: the flags word (bytes 4-7) is 1, hash-based without checking the source, which
        // the guest could not check by timestamp (its files have none).
        // Every one: a timestamp .pyc (the interpreter writes those for what it imports during the build, as
        // compileall's own modules) would be stale in the guest, and its module compiled at every start.
        List<Path> pycs;
        try (Stream<Path> all = Files.walk(root)) {
            pycs = all.filter(p -> p.toString().endsWith(".pyc")).toList();
        }
        assertTrue(pycs.size() > 400, pycs.size() + " .pyc files");
        assertTrue(pycs.contains(root.resolve("usr/lib/python3.11/__pycache__/warnings.cpython-311.pyc")), "compileall's own imports too");
        for (Path pyc : pycs) {
            byte[] header = Files.readAllBytes(pyc);
            assertEquals(1, ByteBuffer.wrap(header, 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt(), pyc::toString);
        }
    }

    /** A pin that Debian's archive no longer offers fails the build, naming the package and how to re-pin. */
    @Test
    void aPinTheArchiveNoLongerOffersFailsWithHowToRepin(@TempDir Path dir) throws IOException {
        Path scripts = copyScripts(dir, "media-types 0.0.0-flicker-test all " + "0".repeat(64) + " layer\n");
        NativeCommand.Result r = NativeCommand.run(PythonLayer.LIMIT, List.of("bash", scripts.resolve("build.sh").toString(),
                dir.resolve("out").toString()), Map.of("FLICKER_CACHE_DIR", dir.resolve("cache").toString()), null);
        assertNotEquals(0, r.exitStatus(), r::toString);
        assertTrue(r.output().contains("Debian's archive no longer offers media-types 0.0.0-flicker-test"), r::toString);
        assertTrue(r.output().contains("runtimes/python3.11/update-pins.sh"), r::toString);
        assertFalse(Files.exists(dir.resolve("out/python3.11")), "no layer is made");
    }

    /** A .deb whose SHA-256 differs from its pin is refused and removed from the cache. */
    @Test
    void aDebWithAnotherHashIsRefused(@TempDir Path dir) throws IOException {
        String pinned = Files.readAllLines(PythonLayer.SCRIPTS.resolve("packages.pin")).stream()
                .filter(l -> l.startsWith("media-types ")).findFirst().orElseThrow();
        String[] f = pinned.split(" ");
        Path scripts = copyScripts(dir, f[0] + " " + f[1] + " " + f[2] + " " + "0".repeat(64) + " layer\n");
        NativeCommand.Result r = NativeCommand.run(PythonLayer.LIMIT, List.of("bash", scripts.resolve("build.sh").toString(),
                dir.resolve("out").toString()), Map.of("FLICKER_CACHE_DIR", dir.resolve("cache").toString()), null);
        assertNotEquals(0, r.exitStatus(), r::toString);
        assertTrue(r.output().contains("media-types " + f[1] + ": the downloaded .deb has SHA-256 " + f[3]
                + ", packages.pin says " + "0".repeat(64)), r::toString);
        try (Stream<Path> cached = Files.list(dir.resolve("cache/debs"))) {
            assertEquals(0, cached.filter(p -> p.toString().endsWith(".deb")).count(), "the refused .deb is not kept");
        }
    }

    private static boolean hasAWriteBit(Path file) {
        try {
            return Files.getPosixFilePermissions(file).stream().anyMatch(p -> p.name().endsWith("_WRITE"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Path copyScripts(Path dir, String pins) throws IOException {
        Path scripts = Files.createDirectories(dir.resolve("runtimes/python3.11"));
        Files.copy(PythonLayer.SCRIPTS.resolve("build.sh"), scripts.resolve("build.sh"));
        Files.copy(PythonLayer.SCRIPTS.resolve("bootstrap.py"), scripts.resolve("bootstrap.py"));
        Files.writeString(scripts.resolve("packages.pin"), pins);
        return scripts;
    }
}
