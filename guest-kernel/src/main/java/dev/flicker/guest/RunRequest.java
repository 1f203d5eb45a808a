package dev.flicker.guest;

import dev.flicker.guest.fs.Bundle;

import java.util.List;
import java.util.Map;

/**
 * One program run: the bundle (mounted read-only at {@code /var/task}), the program's path inside it,
 * its arguments (after argv[0]) and environment, the bytes it reads from stdin, and its limits.
 */
public record RunRequest(Bundle bundle, String program, List<String> args, Map<String, String> env, byte[] stdin,
                         Limits limits) {
    public RunRequest {
        args = List.copyOf(args);
        env = Map.copyOf(env);
        stdin = stdin.clone();
    }

    public static RunRequest of(Bundle bundle, String program) {
        return new RunRequest(bundle, program, List.of(), Map.of(), new byte[0], Limits.DEFAULT);
    }

    public RunRequest withArgs(String... values) {
        return new RunRequest(bundle, program, List.of(values), env, stdin, limits);
    }

    public RunRequest withEnv(Map<String, String> values) {
        return new RunRequest(bundle, program, args, values, stdin, limits);
    }

    public RunRequest withStdin(byte[] bytes) {
        return new RunRequest(bundle, program, args, env, bytes, limits);
    }

    public RunRequest withLimits(Limits value) {
        return new RunRequest(bundle, program, args, env, stdin, value);
    }
}
