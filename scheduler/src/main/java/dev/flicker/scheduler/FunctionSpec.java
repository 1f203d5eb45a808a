package dev.flicker.scheduler;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What runs for one version of a function.
 *
 * @param function      the function it belongs to: the unit of admission (reserved concurrency) and of fairness on
 *                      the run slots
 * @param versionKey    the key of its snapshot and of its VMs in the pool; it must change with anything that runs
 *                      (code, runtime, memory, timeout, environment), since a snapshot is taken after the runtime
 *                      initialised. The scheduler adds the id of the runtime layer, which changes with its content.
 * @param codeDirectory its code, mounted read-only at {@code /var/task}
 * @param program       the program that runs: in the code ({@code bootstrap} for a {@code provided} runtime), or a
 *                      guest path in the runtime layer
 * @param args          the program's arguments
 * @param layer         the runtime layer at {@code /} under the code (its name among the host's runtime layers, as
 *                      {@code python3.11}), or null for none
 * @param environment   the program's whole environment
 * @param memoryMib     its memory setting
 * @param timeoutMillis how long one invocation may run, on the wall clock from the moment its VM first runs
 */
public record FunctionSpec(String function, String versionKey, Path codeDirectory, String program, List<String> args,
                           String layer, Map<String, String> environment, int memoryMib, long timeoutMillis) {
    public FunctionSpec {
        args = List.copyOf(args);
        environment = Map.copyOf(environment);
    }
}
