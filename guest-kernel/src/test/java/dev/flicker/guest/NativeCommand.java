package dev.flicker.guest;

import dev.flicker.testing.TestTime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a host program for a test (the vDSO's and the Python layer's native checks) and collects its output. */
public final class NativeCommand {
    /** The exit status and everything the program wrote to stdout and stderr, interleaved. */
    public record Result(int exitStatus, String output) {
        @Override
        public String toString() {
            return "exit " + exitStatus + ", output:\n" + output;
        }
    }

    private NativeCommand() {}

    /** Runs {@code command}; kills it and fails after {@code limit} (scaled by TestTime). */
    public static Result run(Duration limit, List<String> command) {
        return run(limit, command, Map.of(), null);
    }

    public static Result run(Duration limit, List<String> command, Map<String, String> env, Path workingDirectory) {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(env);
        if (workingDirectory != null) builder.directory(workingDirectory.toFile());
        try {
            Process process = builder.start();
            process.getOutputStream().close();
            var output = new java.io.ByteArrayOutputStream();
            Thread reader = Thread.ofVirtual().start(() -> {
                try (var in = process.getInputStream()) {
                    in.transferTo(output);
                } catch (IOException ignored) {
                    // the process is gone; what was read so far is reported
                }
            });
            if (!process.waitFor(TestTime.scaled(limit).toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor();
                reader.join();
                throw new AssertionError(command + " did not finish within " + TestTime.scaled(limit).toMillis()
                        + " ms; output:\n" + output.toString(StandardCharsets.UTF_8));
            }
            reader.join();
            return new Result(process.exitValue(), output.toString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running " + command, e);
        }
    }
}
