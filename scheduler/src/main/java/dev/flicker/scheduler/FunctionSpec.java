package dev.flicker.scheduler;

import java.nio.file.Path;
import java.util.Map;

/**
 * What runs for one version of a function.
 *
 * @param function      the function it belongs to: the unit of admission (reserved concurrency) and of fairness on
 *                      the run slots
 * @param versionKey    the key of its snapshot and of its VMs in the pool; it must change with anything that runs
 *                      (code, memory, timeout, environment), since a snapshot is taken after the runtime initialised
 * @param codeDirectory its code, mounted read-only at {@code /var/task}
 * @param program       the program in it that runs ({@code bootstrap} for a {@code provided} runtime)
 * @param environment   the program's whole environment
 * @param memoryMib     its memory setting
 * @param timeoutMillis how long one invocation may run, on the wall clock from the moment its VM first runs
 */
public record FunctionSpec(String function, String versionKey, Path codeDirectory, String program,
                           Map<String, String> environment, int memoryMib, long timeoutMillis) {
    public FunctionSpec {
        environment = Map.copyOf(environment);
    }
}
