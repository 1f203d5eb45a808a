package dev.flicker.guest;

import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.Layer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Fixtures: bundles holding the static test programs that the test build compiles from src/test/c. */
final class Programs {
    static final Path BUILT = Path.of("target/test-programs");

    private Programs() {}

    /**
     * A bundle directory with every program built for {@code libc} ("musl", "glibc" or "pie"; "dynamic": the
     * dynamically linked ones, which need {@link #libcLayer}) and a data file.
     */
    static Bundle bundle(String libc) {
        Path dir = BUILT.resolve(libc);
        String probe = switch (libc) {
            case "pie" -> "hello";
            case "dynamic" -> "hello_glibc";
            default -> "exit0";
        };
        if (!Files.isRegularFile(dir.resolve(probe))) {
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

    /**
     * The minimal runtime layer the test build assembles for the dynamic programs: glibc's and musl's dynamic loaders
     * and libc from this Debian host, Debian's {@code /usr/bin/true}, and the test library libgreet with its plugin.
     */
    static Layer libcLayer() {
        Path dir = BUILT.resolve("libc-layer");
        if (!Files.isRegularFile(dir.resolve("lib64/ld-linux-x86-64.so.2"))) {
            throw new IllegalStateException("the test layer is missing in " + dir.toAbsolutePath()
                    + ": src/test/c/build.sh assembles it in generate-test-resources");
        }
        return Layer.open(dir, "libc-layer");
    }
}
