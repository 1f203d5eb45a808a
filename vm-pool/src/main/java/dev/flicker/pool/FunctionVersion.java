package dev.flicker.pool;

import dev.flicker.guest.Limits;
import dev.flicker.guest.RunRequest;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.guest.fs.Layer;

import java.util.List;
import java.util.Map;

/**
 * One deployable version of a function: its key (used for the snapshot store), its code bundle, the program
 * that runs it with its arguments and environment, its limits, and the runtime layer its VMs see at {@code /} (null:
 * none; a layer's program, such as {@code /usr/bin/python3.11}, is named by its absolute path). All its VMs are clones
 * of one snapshot. The key must change with anything that runs, the layer included.
 */
public record FunctionVersion(String key, Bundle bundle, String program, List<String> args, Map<String, String> env,
                              Limits limits, Layer layer) {
    public FunctionVersion {
        args = List.copyOf(args);
        env = Map.copyOf(env);
    }

    /** A version without a runtime layer (a static program of its bundle). */
    public FunctionVersion(String key, Bundle bundle, String program, List<String> args, Map<String, String> env,
                           Limits limits) {
        this(key, bundle, program, args, env, limits, null);
    }

    RunRequest request() {
        return new RunRequest(bundle, program, args, env, new byte[0], limits, List.of(), layer);
    }
}
