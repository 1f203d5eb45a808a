package dev.flicker.api;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * SHA-256, the platform's one hash: of code (its content address and Lambda's {@code CodeSha256}), of request bodies
 * and canonical requests (SigV4), and of what makes a version run differently (its snapshot's key).
 */
final class Sha256 {
    private Sha256() {}

    /** A new digest, for content hashed as it arrives. */
    static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every Java platform has SHA-256", e);
        }
    }

    static byte[] of(byte[] bytes) {
        return digest().digest(bytes);
    }

    static byte[] of(String text) {
        return of(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Lower-case hex, as SigV4 and the code store's directory names write a hash. */
    static String hex(byte[] hash) {
        return HexFormat.of().formatHex(hash);
    }
}
