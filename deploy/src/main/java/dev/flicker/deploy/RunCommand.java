package dev.flicker.deploy;

import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.RunRequest;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.kvm.Kvm;
import dev.flicker.lambda.runtime.RuntimeApi;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code flicker run [--memory-mib N] [--timeout-ms N] BUNDLE_DIR PROGRAM [ARGS...]}: runs one static program
 * in a fresh micro VM with stdin as its input, prints its output, and exits with its status.
 */
@Command(name = "run", description = {"Run one static program in a fresh micro VM: stdin is its input, its output is printed, "
        + "and the exit status is its own (128 + the signal when it was killed).",
        "BUNDLE_DIR is mounted read-only at /var/task; /tmp is an in-memory tmpfs of the VM."})
final class RunCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--memory-mib", paramLabel = "N", description = "Guest memory in MiB (default: ${DEFAULT-VALUE}).")
    int memoryMib = Limits.DEFAULT.memoryMib();

    @Option(names = "--timeout-ms", paramLabel = "N", description = "Wall-clock limit in milliseconds (default: ${DEFAULT-VALUE}).")
    long timeoutMillis = Limits.DEFAULT.timeoutMillis();

    @Parameters(index = "0", paramLabel = "BUNDLE_DIR", description = "The directory mounted at /var/task.")
    Path bundleDir;

    @Parameters(index = "1", paramLabel = "PROGRAM", description = "The program in BUNDLE_DIR to run.")
    String program;

    @Parameters(index = "2..*", paramLabel = "ARGS", description = "The program's arguments.")
    List<String> programArgs = new ArrayList<>();

    @Override
    public Integer call() throws IOException {
        Limits limits;
        try {
            limits = Limits.DEFAULT.withMemoryMib(memoryMib).withTimeoutMillis(timeoutMillis);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        byte[] stdin = System.console() == null ? System.in.readAllBytes() : new byte[0];
        try (Kvm kvm = Kvm.open(); MicroVmRunner runner = new MicroVmRunner(kvm); Bundle bundle = Bundle.open(bundleDir)) {
            // A Lambda runtime's bootstrap finds the Runtime API, as in the platform; its run stops at its first /next.
            RunResult r = runner.run(RunRequest.of(bundle, program).withArgs(programArgs.toArray(String[]::new)).withStdin(stdin)
                    .withLimits(limits).withEndpoints(List.of(RuntimeApi.ENDPOINT)));
            System.out.write(r.stdout());
            System.out.flush();
            System.err.write(r.stderr());
            if (r.outcome() != RunResult.Outcome.EXITED) System.err.println("flicker: " + r.outcome() + ": " + r.detail());
            if (r.stdoutDroppedBytes() + r.stderrDroppedBytes() > 0) {
                System.err.println("flicker: output truncated, " + (r.stdoutDroppedBytes() + r.stderrDroppedBytes()) + " bytes dropped");
            }
            return r.outcome() == RunResult.Outcome.EXITED ? r.exitStatus() : 128 + Math.max(r.signal(), 1);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }
}
