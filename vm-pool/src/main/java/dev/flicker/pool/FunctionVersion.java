package dev.flicker.pool;

import dev.flicker.guest.Limits;
import dev.flicker.guest.RunRequest;
import dev.flicker.guest.fs.Bundle;

import java.util.List;
import java.util.Map;

/**
 * One deployable version of a function: its key (used for the snapshot store), its code bundle, the program
 * that runs it with its arguments and environment, and its limits. All its VMs are clones of one snapshot.
 */
public record FunctionVersion(String key, Bundle bundle, String program, List<String> args, Map<String, String> env,
                              Limits limits) {
    public FunctionVersion {
        args = List.copyOf(args);
        env = Map.copyOf(env);
    }

    RunRequest request() {
        return new RunRequest(bundle, program, args, env, new byte[0], limits, List.of());
    }
}
