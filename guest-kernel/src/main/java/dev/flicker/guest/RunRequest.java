package dev.flicker.guest;

import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.net.LoopbackEndpoint;

import java.util.List;
import java.util.Map;

/**
 * One program run: the bundle (mounted read-only at {@code /var/task}), the program's path inside it,
 * its arguments (after argv[0]) and environment, the bytes it reads from stdin, its limits, and the loopback
 * endpoints its VM serves at {@code 127.0.0.1} (none unless given: then no connection succeeds).
 */
public record RunRequest(Bundle bundle, String program, List<String> args, Map<String, String> env, byte[] stdin,
                         Limits limits, List<LoopbackEndpoint.Spec> endpoints) {
    public RunRequest {
        args = List.copyOf(args);
        env = Map.copyOf(env);
        stdin = stdin.clone();
        endpoints = List.copyOf(endpoints);
    }

    public static RunRequest of(Bundle bundle, String program) {
        return new RunRequest(bundle, program, List.of(), Map.of(), new byte[0], Limits.DEFAULT, List.of());
    }

    public RunRequest withArgs(String... values) {
        return new RunRequest(bundle, program, List.of(values), env, stdin, limits, endpoints);
    }

    public RunRequest withEnv(Map<String, String> values) {
        return new RunRequest(bundle, program, args, values, stdin, limits, endpoints);
    }

    public RunRequest withStdin(byte[] bytes) {
        return new RunRequest(bundle, program, args, env, bytes, limits, endpoints);
    }

    public RunRequest withLimits(Limits value) {
        return new RunRequest(bundle, program, args, env, stdin, value, endpoints);
    }

    public RunRequest withEndpoints(List<LoopbackEndpoint.Spec> values) {
        return new RunRequest(bundle, program, args, env, stdin, limits, values);
    }
}
