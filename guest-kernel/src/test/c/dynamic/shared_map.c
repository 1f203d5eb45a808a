/* Read-only mappings of a runtime layer's file (argv[1]): the bytes are the file's; a private write gets a copy of its
 * own; an address whose page was read, then replaced by another mapping, shows the new mapping (the host flushed the
 * vCPU's cached translation); a file mapped again where it was unmapped shows the file. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned char expected[3 * 4096];

int main(int argc, char **argv) {
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0 || pread(fd, expected, sizeof expected, 0) != (ssize_t) sizeof expected) return 2;
    unsigned char *a = mmap(0, sizeof expected, PROT_READ, MAP_PRIVATE, fd, 0);
    unsigned char *b = mmap(0, sizeof expected, PROT_READ, MAP_PRIVATE, fd, 0);
    if (a == MAP_FAILED || b == MAP_FAILED) return 3;
    printf("same_bytes=%d\n", memcmp(a, expected, sizeof expected) == 0 && memcmp(b, expected, sizeof expected) == 0);

    if (mprotect(a, 4096, PROT_READ | PROT_WRITE) != 0) return 4;
    a[0] = 'X';
    printf("private_write=%d other_mapping_untouched=%d\n", a[0] == 'X', b[0] == expected[0]);

    volatile unsigned char seen = b[4096]; /* b's second page is now cached by the vCPU */
    (void) seen;
    unsigned char *anon = mmap(b + 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("replaced_reads_zero=%d\n", anon == b + 4096 && anon[0] == 0 && anon[100] == 0);
    anon[0] = 'Y';
    printf("replaced_writable=%d\n", anon[0] == 'Y');

    munmap(b + 2 * 4096, 4096);
    unsigned char *again = mmap(b + 2 * 4096, 4096, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    printf("remapped_file=%d\n", again == b + 2 * 4096 && memcmp(again, expected, 4096) == 0);
    return 0;
}
