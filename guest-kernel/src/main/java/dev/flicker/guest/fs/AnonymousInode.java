package dev.flicker.guest.fs;

/** The inode of a file that is in no directory (a standard stream, a socket): a number and a type, no size. */
public record AnonymousInode(long ino, int mode) implements Inode {
    @Override
    public long size() {
        return 0;
    }
}
