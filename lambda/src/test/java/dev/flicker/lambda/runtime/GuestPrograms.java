package dev.flicker.lambda.runtime;

import dev.flicker.guest.fs.Bundle;

import java.nio.file.Files;
import java.nio.file.Path;

/** Fixtures: the test programs guest-kernel's build compiles (its src/test/c), as bundles. */
final class GuestPrograms {
    static final Path BUILT = Path.of("../guest-kernel/target/test-programs");

    private GuestPrograms() {}

    /** The bundle of {@code name}: "musl" (the static test programs) or "c-runtime" (examples/c-runtime). */
    static Bundle bundle(String name) {
        Path dir = BUILT.resolve(name);
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("test programs are missing in " + dir.toAbsolutePath()
                    + ": guest-kernel builds them (src/test/c/build.sh, generate-test-resources); build it first");
        }
        return Bundle.open(dir);
    }
}
