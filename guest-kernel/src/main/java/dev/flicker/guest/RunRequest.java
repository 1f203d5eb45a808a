package dev.flicker.guest;

import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.FileTree;
import dev.flicker.guest.fs.Layer;
import dev.flicker.guest.net.LoopbackEndpoint;

import java.util.List;
import java.util.Map;

/**
 * One program run: the bundle (mounted read-only at {@code /var/task}), the program, its arguments (after argv[0])
 * and environment, the bytes it reads from stdin, its limits, the loopback endpoints its VM serves at
 * {@code 127.0.0.1} (none unless given: then no connection succeeds), and the runtime layer seen at {@code /} (null:
 * none). The program is a path inside the bundle ({@code bootstrap}), or an absolute path in the guest's tree, a
 * layer's program such as {@code /usr/bin/python3.11}.
 */
public record RunRequest(Bundle bundle, String program, List<String> args, Map<String, String> env, byte[] stdin,
                         Limits limits, List<LoopbackEndpoint.Spec> endpoints, Layer layer) {
    public RunRequest {
        args = List.copyOf(args);
        env = Map.copyOf(env);
        stdin = stdin.clone();
        endpoints = List.copyOf(endpoints);
    }

    /** A run without a runtime layer. */
    public RunRequest(Bundle bundle, String program, List<String> args, Map<String, String> env, byte[] stdin,
                      Limits limits, List<LoopbackEndpoint.Spec> endpoints) {
        this(bundle, program, args, env, stdin, limits, endpoints, null);
    }

    public static RunRequest of(Bundle bundle, String program) {
        return new RunRequest(bundle, program, List.of(), Map.of(), new byte[0], Limits.DEFAULT, List.of(), null);
    }

    /**
     * The program's path in the guest, which is its argv[0], {@code AT_EXECFN} and {@code /proc/self/exe}:
     * {@code /var/task/<program>} for a program of the bundle, the program itself (normalized) for an absolute one.
     */
    public String executablePath() {
        return program.startsWith("/") ? FileTree.join(FileTree.normalize("/", program)) : FileTree.TASK_ROOT + "/" + program;
    }

    public RunRequest withArgs(String... values) {
        return new RunRequest(bundle, program, List.of(values), env, stdin, limits, endpoints, layer);
    }

    public RunRequest withEnv(Map<String, String> values) {
        return new RunRequest(bundle, program, args, values, stdin, limits, endpoints, layer);
    }

    public RunRequest withStdin(byte[] bytes) {
        return new RunRequest(bundle, program, args, env, bytes, limits, endpoints, layer);
    }

    public RunRequest withLimits(Limits value) {
        return new RunRequest(bundle, program, args, env, stdin, value, endpoints, layer);
    }

    public RunRequest withEndpoints(List<LoopbackEndpoint.Spec> values) {
        return new RunRequest(bundle, program, args, env, stdin, limits, values, layer);
    }

    /** The same run with {@code value} (null: none) mounted at {@code /}. */
    public RunRequest withLayer(Layer value) {
        return new RunRequest(bundle, program, args, env, stdin, limits, endpoints, value);
    }
}
