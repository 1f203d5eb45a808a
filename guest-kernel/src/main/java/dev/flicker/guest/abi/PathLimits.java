package dev.flicker.guest.abi;

/** How long a path argument and one of its components may be (linux/limits.h). */
public final class PathLimits {
    private PathLimits() {}

    /** The longest path, in bytes with its NUL. */
    public static final int PATH_MAX = 4096;
    /** The longest name of one path component, in UTF-8 bytes. */
    public static final int NAME_MAX = 255;
}
