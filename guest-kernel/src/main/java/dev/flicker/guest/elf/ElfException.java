package dev.flicker.guest.elf;

/** An ELF file that cannot be loaded, with the reason. */
public final class ElfException extends RuntimeException {
    public ElfException(String message) {
        super(message);
    }
}
