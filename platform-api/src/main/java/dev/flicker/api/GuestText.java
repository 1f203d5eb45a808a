package dev.flicker.api;

import java.util.regex.Pattern;

/**
 * Text a function controls (its error type, its stderr in a state reason, its error body), made safe for where the
 * platform puts it: an HTTP header, a {@code VARCHAR}, a PostgreSQL {@code TEXT} (which refuses NUL). Each is
 * checked here even when the guest kernel already checked it: the platform does not rely on one layer.
 */
final class GuestText {
    /** Lambda's error types: what the guest kernel's Runtime API lets through, and what fits invocations.error_type. */
    private static final Pattern ERROR_TYPE = Pattern.compile("[A-Za-z0-9._-]{1,128}");
    /** The type reported for an error whose own type is not one. */
    static final String UNKNOWN_ERROR_TYPE = "Unhandled";
    static final int MAX_REASON_CHARS = 1024;

    private GuestText() {}

    /** {@code raw} when it is a valid error type, {@link #UNKNOWN_ERROR_TYPE} otherwise; null stays null (no error). */
    static String errorType(String raw) {
        if (raw == null) return null;
        return ERROR_TYPE.matcher(raw).matches() ? raw : UNKNOWN_ERROR_TYPE;
    }

    /** One line for a state reason: control characters (NUL and line breaks included) become spaces; capped. */
    static String line(String raw) {
        if (raw == null) return null;
        StringBuilder b = new StringBuilder(Math.min(raw.length(), MAX_REASON_CHARS));
        for (int i = 0; i < raw.length() && b.length() < MAX_REASON_CHARS; i++) {
            char c = raw.charAt(i);
            b.append(Character.isISOControl(c) ? ' ' : c);
        }
        if (raw.length() > MAX_REASON_CHARS) b.append(" (truncated)");
        return b.toString();
    }

    /** Text for a {@code TEXT} column: NUL, which PostgreSQL refuses, becomes U+FFFD; capped at {@code maxChars}. */
    static String text(String raw, int maxChars) {
        if (raw == null) return null;
        String capped = raw.length() > maxChars ? raw.substring(0, maxChars) + " (truncated)" : raw;
        return capped.replace('\0', '\uFFFD');
    }
}
