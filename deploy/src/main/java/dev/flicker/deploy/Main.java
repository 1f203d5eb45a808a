package dev.flicker.deploy;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.util.Map;

/**
 * The Java entry point behind the {@code flicker} launcher's JVM commands ({@code run}, {@code fn}, {@code bench}),
 * each a picocli command. Exit status: 0 done, 1 failed (or the program's own, for {@code run}), 2 a usage error,
 * told in one line.
 */
@Command(name = "flicker", subcommands = {RunCommand.class, FnCommand.class, Bench.class},
        synopsisSubcommandLabel = "(run | fn | bench)",
        description = "Flicker's commands that run in Java (./flicker test and ./flicker up are the launcher's own).")
public final class Main {
    @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT, description = "Show this help and exit.")
    boolean help;

    /** The process environment, or a test's: where {@code fn} finds its endpoint and credentials. */
    final Map<String, String> env;

    Main(Map<String, String> env) {
        this.env = env;
    }

    public static void main(String[] args) {
        System.exit(commandLine(System.getenv(), new PrintWriter(System.out, true), new PrintWriter(System.err, true)).execute(args));
    }

    static CommandLine commandLine(Map<String, String> env, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main(env));
        cli.setOut(out).setErr(err).setParameterExceptionHandler(Main::usageError);
        // run's options come before its directory; everything after that is the program's own arguments.
        cli.getSubcommands().get("run").setStopAtPositional(true);
        return cli;
    }

    /** A usage error: one line that names the command and where its help is, and status 2. */
    private static int usageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cli = e.getCommandLine();
        String command = cli.getCommandSpec().qualifiedName();
        cli.getErr().println(command + ": " + oneLine(e.getMessage()) + " (see " + command + " --help)");
        return cli.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** Text made to fit on one line: every run of control characters and line breaks is one space. */
    static String oneLine(String text) {
        return text == null ? "" : text.replaceAll("[\\p{Cntrl}\\s]+", " ").strip();
    }
}
