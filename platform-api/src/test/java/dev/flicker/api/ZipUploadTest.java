package dev.flicker.api;

import dev.flicker.testing.NeedsKvm;
import dev.flicker.testing.TestTime;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hostile zips get a 400 and leave nothing behind; heap and disk stay bounded; unused code is deleted. */
@QuarkusTest
class ZipUploadTest {
    static byte[] bootstrap;

    @BeforeAll
    static void setUp() throws IOException {
        FunctionsResourceTest.zip();
        bootstrap = Files.readAllBytes(FunctionsResourceTest.BOOTSTRAP);
    }

    /** A zip of these entries in this order (a name ending in "/" is a directory). */
    static byte[] zip(List<Map.Entry<String, byte[]>> entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            for (var e : entries) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    static Map.Entry<String, byte[]> entry(String name, byte[] content) {
        return Map.entry(name, content);
    }

    static Map.Entry<String, byte[]> entry(String name) {
        return Map.entry(name, new byte[0]);
    }

    /** {@code zip} with every occurrence of the name {@code from} replaced by the bytes {@code to} (as long). */
    static byte[] patched(byte[] zip, String from, byte[] to) {
        byte[] pattern = from.getBytes(StandardCharsets.US_ASCII), out = zip.clone();
        assertEquals(pattern.length, to.length);
        int replaced = 0;
        for (int i = 0; i + pattern.length <= out.length; i++) {
            if (java.util.Arrays.equals(out, i, i + pattern.length, pattern, 0, pattern.length)) {
                System.arraycopy(to, 0, out, i, to.length);
                replaced++;
            }
        }
        assertEquals(2, replaced, "the local and the central header each name it once");
        return out;
    }

    static Response create(String name, byte[] zip) {
        return given().contentType(ContentType.JSON)
                .body(FunctionsResourceTest.createBody(name, "provided", 128, Base64.getEncoder().encodeToString(zip)))
                .post("/2015-03-31/functions");
    }

    static CodeStore codeStore() {
        return io.quarkus.arc.Arc.container().instance(CodeStore.class).get();
    }

    /** What the code store's directory holds besides the code of functions that exist. */
    static Set<String> storeEntries() throws IOException {
        try (Stream<Path> s = Files.list(codeStore().root())) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
    }

    @Test
    void badEntriesAre400sAndLeaveNothing() throws Exception {
        byte[] b = bootstrap;
        Map<String, List<Map.Entry<String, byte[]>>> cases = new java.util.LinkedHashMap<>();
        cases.put("a file named '.'", List.of(entry("bootstrap", b), entry(".", "x".getBytes())));
        cases.put("a file, then a file inside it", List.of(entry("bootstrap", b), entry("a", "x".getBytes()), entry("a/b", "y".getBytes())));
        cases.put("a directory, then a file of its name", List.of(entry("bootstrap", b), entry("a/b", "y".getBytes()), entry("a", "x".getBytes())));
        cases.put("a name with NUL", List.of(entry("bootstrap", b), entry("x\0y", "x".getBytes())));
        cases.put("a name with a newline", List.of(entry("bootstrap", b), entry("x\ny", "x".getBytes())));
        cases.put("an absolute path", List.of(entry("bootstrap", b), entry("/etc/cron.d/x", "x".getBytes())));
        cases.put("a path up", List.of(entry("bootstrap", b), entry("../x", "x".getBytes())));
        cases.put("a path up from inside", List.of(entry("bootstrap", b), entry("a/../../x", "x".getBytes())));
        cases.put("a name too long", List.of(entry("bootstrap", b), entry("x".repeat(300), "x".getBytes())));
        cases.put("bootstrap as a directory", List.of(entry("bootstrap/"), entry("bootstrap/x", b)));
        cases.put("no entries", List.of());
        List<byte[]> zips = new ArrayList<>();
        for (var c : cases.values()) zips.add(zip(c));
        // What ZipOutputStream will not write, patched in afterwards: a name twice, a name that is not UTF-8.
        zips.add(patched(zip(List.of(entry("bootstrap", b), entry("bootstraq", b))), "bootstraq", "bootstrap".getBytes()));
        zips.add(patched(zip(List.of(entry("bootstrap", b), entry("name-x", b))), "name-x", new byte[] {'n', 'a', 'm', 'e', '-', (byte) 0xff}));
        int n = 0;
        for (byte[] zip : zips) {
            create("badzip" + n++, zip).then().statusCode(400).header("X-Amzn-ErrorType", "InvalidParameterValueException");
        }
        given().contentType(ContentType.JSON).body("{\"ZipFile\":\"" + Base64.getEncoder().encodeToString(zips.getFirst())
                + "\"}").put("/2015-03-31/functions/nobody/code").then().statusCode(404);
        // Not base64, or the zip twice: 400 as well.
        given().contentType(ContentType.JSON).body("{\"ZipFile\":\"not*base64\"}").put("/2015-03-31/functions/nobody/code")
                .then().statusCode(400).body("message", containsString("base64"));
        String b64 = Base64.getEncoder().encodeToString(zip(List.of(entry("bootstrap", b))));
        given().contentType(ContentType.JSON).body("{\"ZipFile\":\"" + b64 + "\",\"ZipFile\":\"" + b64 + "\"}")
                .put("/2015-03-31/functions/nobody/code").then().statusCode(400).body("message", containsString("twice"));
        for (int i = 0; i < n; i++) given().get("/2015-03-31/functions/badzip" + i).then().statusCode(404);
        for (String e : storeEntries()) assertFalse(e.startsWith(".tmp-"), "an unpacking left " + e);
        try (Stream<Path> uploads = Files.list(codeStore().root().resolve(".uploads"))) {
            assertEquals(0, uploads.count(), "uploads are deleted when their request ends");
        }
    }

    @Test
    void harmlessOddNamesAreAccepted() throws Exception {
        // A directory entry for the root, "./" prefixes and doubled slashes name ordinary files.
        byte[] zip = zip(List.of(entry("./"), entry("./bootstrap", bootstrap), entry("lib//data.txt", "d".getBytes()), entry("lib/")));
        create("oddnames", zip).then().statusCode(201);
        Path dir = codeStore().root().resolve(sha256Hex(zip));
        assertTrue(Files.isRegularFile(dir.resolve("bootstrap")) && Files.isRegularFile(dir.resolve("lib/data.txt")));
        given().delete("/2015-03-31/functions/oddnames").then().statusCode(204);
    }

    static String sha256Hex(byte[] bytes) {
        return Sha256.hex(Sha256.of(bytes));
    }

    /** Bytes allocated by every thread of this JVM so far (the platform runs in it). */
    static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getTotalThreadAllocatedBytes();
    }

    /** 300 MB of zeros: deflated to about 300 KB. */
    static byte[] bomb(int entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        byte[] zeros = new byte[1 << 20];
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            zip.putNextEntry(new ZipEntry("bootstrap"));
            zip.write(bootstrap);
            zip.closeEntry();
            for (int e = 0; e < entries; e++) {
                zip.putNextEntry(new ZipEntry("zeros" + e));
                for (int mib = 0; mib < 300 / entries; mib++) zip.write(zeros);
                zip.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    /** The same zip with every entry's sizes in its central directory set to 1 byte: what a liar sends. */
    static byte[] lyingAboutSizes(byte[] zip) {
        byte[] out = zip.clone();
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i + 46 <= out.length; i++) {
            if (b.getInt(i) == 0x02014b50) b.putInt(i + 24, 1); // central directory header: uncompressed size
        }
        return out;
    }

    @Test
    void aZipBombIsRefusedWithBoundedHeapAndDisk() throws Exception {
        for (byte[] bomb : List.of(bomb(1), bomb(3), lyingAboutSizes(bomb(1)))) {
            assertTrue(bomb.length < 1 << 20, "a small request: " + bomb.length);
            long before = allocatedBytes();
            create("bomb", bomb).then().statusCode(400).body("message", containsString("larger than"));
            long allocated = allocatedBytes() - before;
            // Reading entries whole allocated 250 MB or more; streamed, the request and its buffers take a few MB.
            assertTrue(allocated < 100L << 20, "the platform allocated " + (allocated >> 20) + " MB for a zip bomb");
            System.out.println("a zip bomb of " + bomb.length + " bytes: " + (allocated >> 20) + " MB allocated");
            // Nothing stays on disk: no unpacking directory, no code under the bomb's hash.
            for (String e : storeEntries()) assertFalse(e.startsWith(".tmp-") || e.equals(sha256Hex(bomb)), "the bomb left " + e);
        }
        given().get("/2015-03-31/functions/bomb").then().statusCode(404);

        // Many entries: refused from the zip's directory, before one is written.
        List<Map.Entry<String, byte[]>> many = new ArrayList<>();
        many.add(entry("bootstrap", bootstrap));
        for (int i = 0; i < CodeStore.MAX_ENTRIES; i++) many.add(entry("f" + i));
        create("many", zip(many)).then().statusCode(400).body("message", containsString("entries"));
    }

    @Test
    void aZipOverFiftyMegabytesIs413() throws Exception {
        byte[] random = new byte[(int) CodeStore.MAX_ZIP_BYTES + 1024];
        new java.util.Random(50).nextBytes(random);
        byte[] big = zip(List.of(Map.entry("bootstrap", bootstrap), Map.entry("data", random)));
        create("toobig", big).then().statusCode(413).header("X-Amzn-ErrorType", "RequestTooLargeException");
    }

    @NeedsKvm
    @Test
    void codeNoFunctionUsesIsDeleted() throws Exception {
        byte[] one = zip(List.of(entry("bootstrap", bootstrap), entry("gc.txt", "one".getBytes())));
        byte[] two = zip(List.of(entry("bootstrap", bootstrap), entry("gc.txt", "two".getBytes())));
        byte[] three = zip(List.of(entry("bootstrap", bootstrap), entry("gc.txt", "three".getBytes())));
        FunctionsResourceTest.createActive("gc", one);
        String dirOne = sha256Hex(one), dirTwo = sha256Hex(two), dirThree = sha256Hex(three);
        assertTrue(storeEntries().contains(dirOne));

        // Code that loses its function to a create of the same name: never used, deleted.
        create("gc", three).then().statusCode(409);
        awaitGone(dirThree);
        given().contentType(ContentType.JSON).body("{\"ZipFile\":\"" + Base64.getEncoder().encodeToString(two) + "\"}")
                .put("/2015-03-31/functions/gc/code").then().statusCode(200);
        awaitGone(dirOne); // replaced
        assertTrue(storeEntries().contains(dirTwo));
        given().delete("/2015-03-31/functions/gc").then().statusCode(204);
        awaitGone(dirTwo);
        assertEquals(List.of(), codeStore().collectNow(), "nothing else to collect");
    }

    static void awaitGone(String dir) throws Exception {
        TestTime.await(dir + " to leave the code store", Duration.ofSeconds(5), () -> {
            try {
                return !storeEntries().contains(dir);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        assertFalse(storeEntries().contains(dir), dir + " is still in the code store");
    }

    @Inject
    CodeStore codeStore;

    @Test
    void theSameZipUnpackedTwiceAtOnceIsStoredOnce() throws Exception {
        // Two requests with the same code (an SDK resending a create whose answer was slow) both find no directory
        // for its hash and unpack it; the second rename meets the first's directory (ENOTEMPTY) and uses it.
        byte[] zip = zip(List.of(entry("bootstrap", bootstrap), entry("twice.txt", Long.toString(System.nanoTime()).getBytes())));
        Path zipFile = Files.createTempFile("twice", ".zip");
        Path dir = codeStore.root().resolve("0".repeat(63) + "1");
        try {
            Files.write(zipFile, zip);
            codeStore.unpack(zipFile, dir);
            codeStore.unpack(zipFile, dir);
            try (Stream<Path> files = Files.list(dir)) {
                assertEquals(Set.of("bootstrap", "twice.txt"), files.map(f -> f.getFileName().toString()).collect(Collectors.toSet()));
            }
        } finally {
            Files.delete(zipFile);
            CodeStore.deleteTree(dir);
        }
    }

    @NeedsKvm
    @Test
    void getFunctionShowsNoHostPath() throws Exception {
        FunctionsResourceTest.createActive("nopath");
        String body = given().get("/2015-03-31/functions/nopath").then().statusCode(200)
                .body("Code.RepositoryType", org.hamcrest.Matchers.equalTo("Flicker")).extract().asString();
        assertNull(given().get("/2015-03-31/functions/nopath").then().extract().path("Code.Location"));
        String root = codeStore().root().toAbsolutePath().toString();
        assertFalse(body.contains(root) || body.contains("flicker-test-data") || body.contains("/code/"), body);
        given().delete("/2015-03-31/functions/nopath").then().statusCode(204);
    }
}
