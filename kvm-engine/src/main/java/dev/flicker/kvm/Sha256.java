package dev.flicker.kvm;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * SHA-256, with which the modules above the engine name what they store by its content: the guest image and the vDSO
 * in each snapshot's kind (guest-kernel), a snapshot's directory (snapshots). It lives here because the engine is the
 * one module both may use; platform-api, which may not, has its own ({@code dev.flicker.api.Sha256}).
 */
public final class Sha256 {
    private Sha256() {}

    /** A new SHA-256 digest. Every Java platform must have it, so its absence is a broken JDK, not an error to handle. */
    public static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("this JDK has no SHA-256", e);
        }
    }

    /** The SHA-256 of {@code bytes}, in lower-case hex. */
    public static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(newDigest().digest(bytes));
    }
}
