package dev.flicker.api;

/**
 * Checks for the values a request hands over as text (query parameters, headers, JSON strings), where they enter:
 * a bad one is a 400 that names it, never a 404 from a failed conversion or a 500 from PostgreSQL, which refuses
 * NUL in text.
 */
final class Params {
    private Params() {}

    /** {@code value} as a whole number within {@code min..max}, or {@code fallback} when absent. */
    static int integer(String name, String value, int fallback, int min, int max) {
        if (value == null) return fallback;
        int n;
        try {
            n = Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw LambdaError.invalid(name + " must be a whole number, was '" + value + "'");
        }
        if (n < min || n > max) throw LambdaError.invalid(name + " must be between " + min + " and " + max);
        return n;
    }

    /** True when {@code s} holds a control character (C0, DEL or C1) other than tab, CR and LF. */
    static boolean hasControlCharacters(String s, boolean lineBreaksAllowed) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isISOControl(c) && !(lineBreaksAllowed && (c == '\t' || c == '\n' || c == '\r'))) return true;
        }
        return false;
    }

    /** Refuses a free text (a description) that holds control characters other than tab and line breaks. */
    static String text(String name, String value) {
        if (value != null && hasControlCharacters(value, true)) throw LambdaError.invalid(name + " must not contain control characters");
        return value;
    }
}
