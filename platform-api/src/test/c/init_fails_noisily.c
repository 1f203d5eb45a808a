/*
 * A runtime that fails its initialisation, writing to stderr what a state reason must not carry as it is: NUL,
 * an escape sequence, a bare CR and LF, and bytes that are not UTF-8.
 */
#include <unistd.h>
int main(void) {
    static const char noise[] = "init failed:\0NUL\x1b[31mred\rCR\nLF\xff\xfe not utf-8\x07";
    if (write(2, noise, sizeof noise - 1) < 0) return 2;
    return 1;
}
