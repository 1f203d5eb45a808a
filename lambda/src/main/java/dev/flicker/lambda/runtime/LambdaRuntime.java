package dev.flicker.lambda.runtime;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * A Lambda {@code Runtime} Flicker runs, and what it starts in a function's VM: the program (a path in the bundle, or an
 * absolute path in the runtime's layer), its arguments, the environment it adds to Lambda's, and the runtime layer it
 * needs ({@link RuntimeLayers}; null: none).
 *
 * <ul>
 *   <li>{@code provided}, {@code provided.al2}, {@code provided.al2023}: the zip's own {@code bootstrap}, a static
 *       program, with no layer.</li>
 *   <li>{@code python3.11}: Debian 12's unmodified {@code /usr/bin/python3.11} from the {@code python3.11} layer
 *       (runtimes/python3.11), running Flicker's {@code /var/runtime/bootstrap.py}, which imports the handler module
 *       (the init phase, before the snapshot) and speaks the Runtime API. {@code -s} skips the user site directory
 *       (and with it glibc's {@code nscd} and {@code /etc/passwd} probes); {@code LD_LIBRARY_PATH} is not set, so
 *       {@code ld.so} opens each library by the path its cache names (docs/python.md).</li>
 * </ul>
 */
public record LambdaRuntime(String name, String program, List<String> args, Map<String, String> env, String layer) {
    public LambdaRuntime {
        args = List.copyOf(args);
        env = Map.copyOf(env);
    }

    private static final LambdaRuntime PROVIDED = provided("provided");
    private static final List<LambdaRuntime> ALL = List.of(PROVIDED, provided("provided.al2"), provided("provided.al2023"),
            new LambdaRuntime("python3.11", "/usr/bin/python3.11", List.of("-s", "/var/runtime/bootstrap.py"),
                    Map.of("LANG", "C.UTF-8", "TZ", ":UTC", "LAMBDA_RUNTIME_DIR", "/var/runtime",
                            "AWS_EXECUTION_ENV", "AWS_Lambda_python3.11",
                            "PATH", "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
                    "python3.11"));

    private static LambdaRuntime provided(String name) {
        return new LambdaRuntime(name, "bootstrap", List.of(), Map.of(), null);
    }

    /** The runtime called {@code name}, if Flicker runs it. */
    public static Optional<LambdaRuntime> of(String name) {
        return ALL.stream().filter(r -> r.name.equals(name)).findFirst();
    }

    /** The names of every runtime Flicker runs, sorted. */
    public static Set<String> names() {
        Set<String> names = new TreeSet<>();
        for (LambdaRuntime r : ALL) names.add(r.name);
        return names;
    }

    /** True for a custom runtime: the zip must hold an executable {@code bootstrap} at its top level. */
    public boolean needsBootstrap() {
        return program.equals(PROVIDED.program) && layer == null;
    }
}
