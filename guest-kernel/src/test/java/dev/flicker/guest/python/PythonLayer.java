package dev.flicker.guest.python;

import dev.flicker.guest.NativeCommand;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Fixtures: the python3.11 runtime layer that the test build makes (runtimes/python3.11/build.sh) and its scripts. */
final class PythonLayer {
    static final Path SCRIPTS = Path.of("../runtimes/python3.11");
    static final Path OUTPUT = Path.of("target/runtimes");
    static final Duration LIMIT = Duration.ofSeconds(90);

    private PythonLayer() {}

    /** The layer's root directory, as the guest will see "/". */
    static Path root() {
        Path root = OUTPUT.resolve("python3.11/root");
        if (!Files.isExecutable(root.resolve("usr/bin/python3.11"))) {
            throw new IllegalStateException("the python3.11 layer is missing at " + root.toAbsolutePath()
                    + ": runtimes/python3.11/build.sh makes it in generate-test-resources (it needs Debian's archive)");
        }
        return root;
    }

    /** The layer's python3.11, run natively on the host with the layer's ld.so (python-native.sh). */
    static NativeCommand.Result python(Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>(List.of("bash", SCRIPTS.resolve("python-native.sh").toString(), root().toString()));
        command.addAll(List.of(args));
        String passed = env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(" "));
        return NativeCommand.run(LIMIT, command, Map.of("FLICKER_ENV", passed), null);
    }
}
