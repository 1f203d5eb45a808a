package dev.flicker.guest.fs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A bundle's files are mapped while read, and the process keeps a bounded number of idle mappings. */
class BundleTest {
    private static long processMappings() throws IOException {
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.count();
        }
    }

    private static String read(Node.BundleFile f) throws IOException {
        try (Node.BundleFile.View v = f.view()) {
            return new String(v.bytes().toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }
    }

    @Test
    void manyFilesInSeveralBundlesStayWithinTheMappingBound(@TempDir Path dir) throws IOException {
        // 7 bundles of 10,000 files: 70,000 files, more than vm.max_map_count (65,530 by default) allows mappings.
        int filesPerBundle = 10_000, bundleCount = 7;
        for (int i = 0; i < filesPerBundle; i++) {
            Path sub = dir.resolve("d" + i / 1000);
            if (i % 1000 == 0) Files.createDirectories(sub);
            Files.writeString(sub.resolve("f" + i), "file " + i + "\n");
        }
        long before = processMappings();
        List<Bundle> bundles = new ArrayList<>();
        try {
            for (int b = 0; b < bundleCount; b++) bundles.add(Bundle.open(dir));
            assertTrue(processMappings() - before < 100, "opening maps nothing: " + (processMappings() - before));
            for (Bundle bundle : bundles) {
                for (int i = 0; i < filesPerBundle; i++) {
                    assertEquals("file " + i + "\n", read(bundle.file("d" + i / 1000 + "/f" + i)));
                }
            }
            int mapped = bundles.stream().mapToInt(Bundle::mappedFiles).sum();
            assertEquals(MappedFiles.MAX_IDLE, mapped, "only the most recently used idle files stay mapped");
            long grown = processMappings() - before;
            assertTrue(grown <= MappedFiles.MAX_IDLE + 256, "the process gained " + grown + " mappings");
        } finally {
            bundles.forEach(Bundle::close);
        }
        assertEquals(0, bundles.stream().mapToInt(Bundle::mappedFiles).sum(), "closed bundles keep nothing mapped");
        assertTrue(processMappings() - before < 100, "and the process is back where it was");
    }

    @Test
    void aFileBeingReadStaysMappedWhenItsBundleIsClosed(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("a.txt"), "still here");
        Bundle bundle = Bundle.open(dir);
        Node.BundleFile a = bundle.file("a.txt");
        Node.BundleFile.View view = a.view();
        assertEquals(1, bundle.mappedFiles());
        bundle.close();
        assertEquals("still here", new String(view.bytes().toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8),
                "a reader is never unmapped under its feet");
        view.close();
        view.close(); // twice is harmless
        assertEquals(0, bundle.mappedFiles());
        // A VM still running on a closed bundle can read on: each read maps and unmaps the file.
        assertEquals("still here", read(a));
        assertEquals(0, bundle.mappedFiles());
    }

    @Test
    void aFileChangedRemovedOrReplacedByALinkAfterIndexingIsAnIoError(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("shrinks"), "0123456789");
        Files.writeString(dir.resolve("goes"), "bye");
        Files.writeString(dir.resolve("linked"), "mine");
        Files.writeString(dir.resolve("secret"), "host secret");
        try (Bundle bundle = Bundle.open(dir)) {
            Files.writeString(dir.resolve("shrinks"), "01"); // mapping 10 bytes of a 2-byte file would fault the JVM
            Files.delete(dir.resolve("goes"));
            Files.delete(dir.resolve("linked"));
            Files.createSymbolicLink(dir.resolve("linked"), dir.resolve("secret"));
            assertThrows(IOException.class, () -> bundle.file("shrinks").view());
            assertThrows(IOException.class, () -> bundle.file("goes").view());
            assertThrows(IOException.class, () -> bundle.file("linked").view());
            assertEquals(0, bundle.mappedFiles());
            assertEquals("host secret", read(bundle.file("secret")));
        }
    }

    @Test
    void emptyFilesNeedNoMapping(@TempDir Path dir) throws IOException {
        Files.write(dir.resolve("empty"), new byte[0]);
        try (Bundle bundle = Bundle.open(dir)) {
            assertEquals("", read(bundle.file("empty")));
            assertEquals(0, bundle.mappedFiles());
        }
    }
}
