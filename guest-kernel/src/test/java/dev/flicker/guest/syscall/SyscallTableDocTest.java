package dev.flicker.guest.syscall;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * docs/syscalls.md and the system call table say the same: every call the table holds has a row in the section of its
 * family file, with its name and its support level, and the page lists no other call.
 */
class SyscallTableDocTest {
    private static final Path DOC = Path.of("../docs/syscalls.md");
    private static final Pattern FAMILY = Pattern.compile("^### .*: `(\\w+Syscalls)`$");
    private static final Pattern ROW = Pattern.compile("^\\| (\\d+) \\| ([a-z_0-9]+) \\| ([^|]+?) \\|");

    /** One row of the page: the call, its family's section, its support level. */
    private record Row(int number, String name, String family, String support) {}

    private static List<Row> documented() throws IOException {
        List<Row> rows = new ArrayList<>();
        String family = null;
        for (String line : Files.readAllLines(DOC)) {
            if (line.startsWith("## ")) family = null; // the table's sections end with it
            Matcher f = FAMILY.matcher(line);
            if (f.matches()) family = f.group(1);
            Matcher r = ROW.matcher(line);
            if (family != null && r.find()) rows.add(new Row(Integer.parseInt(r.group(1)), r.group(2), family, r.group(3)));
        }
        return rows;
    }

    @Test
    void theDocumentListsEveryCallOfTheTableUnderItsFamilyWithItsSupport() throws IOException {
        TreeMap<Integer, Row> expected = new TreeMap<>(), actual = new TreeMap<>();
        for (Syscall s : SyscallTable.X86_64.entries()) {
            expected.put(s.number(), new Row(s.number(), s.name(), s.family(), s.support().label()));
        }
        for (Row r : documented()) {
            assertFalse(actual.containsKey(r.number()), "call " + r.number() + " is documented twice");
            actual.put(r.number(), r);
        }
        assertTrue(expected.size() >= 80, expected.size() + " calls in the table");
        List<String> differences = new ArrayList<>();
        TreeSet<Integer> numbers = new TreeSet<>(expected.keySet());
        numbers.addAll(actual.keySet());
        for (int nr : numbers) {
            if (!Objects.equals(expected.get(nr), actual.get(nr))) {
                differences.add("call " + nr + ": the table has " + expected.get(nr) + ", the page " + actual.get(nr));
            }
        }
        assertEquals(List.of(), differences, "docs/syscalls.md and SyscallTable differ");
    }

    @Test
    void aPartialCallSaysHowItDiffersAndAnErrorWhatItAnswers() {
        for (Syscall s : SyscallTable.X86_64.entries()) {
            switch (s.support()) {
                case Support.Partial p -> assertFalse(p.note().isBlank(), s.name());
                case Support.Error e -> assertTrue(e.errno() > 0 && !e.note().isBlank(), s.name());
                case Support.Supported ok -> { }
            }
        }
    }
}
