package dev.flicker.api;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * SHA-256 for the API: a zip's content address ({@link CodeStore}) and SigV4's payload and request hashes. The engine's
 * modules share {@code dev.flicker.kvm.Sha256}, which this module may not use (the module graph, {@code ModuleGraphTest}).
 */
final class Sha256 {
    private Sha256() {}

    /** A new SHA-256 digest. Every Java platform must have it, so its absence is a broken JDK, not an error to handle. */
    static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("this JDK has no SHA-256", e);
        }
    }

    /** The SHA-256 of {@code bytes}. */
    static byte[] of(byte[] bytes) {
        return newDigest().digest(bytes);
    }
}
