package dev.flicker.kvm;

/** A KVM operation failed; the cause (usually a {@link dev.flicker.kvm.sys.SysException}) says which ioctl and errno. */
public final class KvmException extends RuntimeException {
    public KvmException(String message, Throwable cause) {
        super(message, cause);
    }

    public KvmException(String message) {
        super(message);
    }
}
