package dev.flicker.guest;

import dev.flicker.guest.fs.Bundle;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Fixtures: bundles holding the static test programs that the test build compiles from src/test/c. */
final class Programs {
    static final Path BUILT = Path.of("target/test-programs");

    private Programs() {}

    /** A bundle directory with every program built for {@code libc} ("musl", "glibc" or "pie") and a data file. */
    static Bundle bundle(String libc) {
        Path dir = BUILT.resolve(libc);
        if (!Files.isRegularFile(dir.resolve(libc.equals("pie") ? "hello" : "exit0"))) {
            throw new IllegalStateException("test programs are missing in " + dir.toAbsolutePath()
                    + ": they are built by src/test/c/build.sh in generate-test-resources (needs gcc and musl-tools)");
        }
        try {
            Path data = dir.resolve("data.txt");
            if (!Files.exists(data)) Files.writeString(data, "line one\nline two\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Bundle.open(dir);
    }
}
