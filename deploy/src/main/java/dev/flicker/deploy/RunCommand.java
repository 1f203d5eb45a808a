package dev.flicker.deploy;

import dev.flicker.guest.Limits;
import dev.flicker.guest.MicroVmRunner;
import dev.flicker.guest.RunRequest;
import dev.flicker.guest.RunResult;
import dev.flicker.guest.fs.Bundle;
import dev.flicker.kvm.Kvm;
import dev.flicker.lambda.runtime.RuntimeApi;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * {@code flicker run [--memory-mib N] [--timeout-ms N] BUNDLE_DIR PROGRAM [ARGS...]}: runs one static program
 * in a fresh micro VM with stdin as its input, prints its output, and exits with its status.
 */
public final class RunCommand {
    public static int main(String[] args) throws IOException {
        Limits limits = Limits.DEFAULT;
        int i = 0;
        while (i < args.length && args[i].startsWith("--")) {
            String flag = args[i];
            if (i + 1 >= args.length) return usage("missing value after " + flag);
            String value = args[i + 1];
            try {
                switch (flag) {
                    case "--memory-mib" -> limits = limits.withMemoryMib(Integer.parseInt(value));
                    case "--timeout-ms" -> limits = limits.withTimeoutMillis(Long.parseLong(value));
                    default -> {
                        return usage("unknown option " + flag);
                    }
                }
            } catch (IllegalArgumentException e) {
                return usage("bad value for " + flag + ": " + e.getMessage());
            }
            i += 2;
        }
        if (args.length - i < 2) return usage("need a bundle directory and a program");
        Path bundleDir = Path.of(args[i]);
        String program = args[i + 1];
        String[] programArgs = Arrays.copyOfRange(args, i + 2, args.length);
        byte[] stdin = System.console() == null ? System.in.readAllBytes() : new byte[0];
        try (Kvm kvm = Kvm.open(); MicroVmRunner runner = new MicroVmRunner(kvm); Bundle bundle = Bundle.open(bundleDir)) {
            // A Lambda runtime's bootstrap finds the Runtime API, as in the platform; its run stops at its first /next.
            RunResult r = runner.run(RunRequest.of(bundle, program).withArgs(programArgs).withStdin(stdin).withLimits(limits)
                    .withEndpoints(List.of(RuntimeApi.ENDPOINT)));
            System.out.write(r.stdout());
            System.out.flush();
            System.err.write(r.stderr());
            if (r.outcome() != RunResult.Outcome.EXITED) System.err.println("flicker: " + r.outcome() + ": " + r.detail());
            if (r.stdoutDroppedBytes() + r.stderrDroppedBytes() > 0) {
                System.err.println("flicker: output truncated, " + (r.stdoutDroppedBytes() + r.stderrDroppedBytes()) + " bytes dropped");
            }
            return r.outcome() == RunResult.Outcome.EXITED ? r.exitStatus() : 128 + Math.max(r.signal(), 1);
        } catch (IllegalArgumentException e) {
            return usage(e.getMessage());
        }
    }

    private static int usage(String problem) {
        System.err.println("flicker run: " + problem);
        System.err.println("usage: flicker run [--memory-mib N] [--timeout-ms N] BUNDLE_DIR PROGRAM [ARGS...]");
        return 2;
    }
}
