package dev.flicker.guest.fs;

/** What {@code stat} reports of a file, as Linux's inode holds it: its number, its type and mode, its size. */
public interface Inode {
    long ino();

    /** Type and permission bits ({@code S_IF*} | mode). */
    int mode();

    long size();
}
