package dev.flicker.deploy;

import java.util.Arrays;

/** The Java entry point behind the {@code flicker} launcher's JVM commands. */
public final class Main {
    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: flicker run ... | flicker fn ... | flicker bench engine|snapshot");
            System.exit(2);
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        int status = switch (args[0]) {
            case "run" -> RunCommand.main(rest);
            case "bench" -> Bench.main(rest);
            case "fn" -> FnCommand.main(rest);
            default -> {
                System.err.println("flicker: unknown command '" + args[0] + "'");
                yield 2;
            }
        };
        System.exit(status);
    }
}
