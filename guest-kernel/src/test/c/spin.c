#include <stdlib.h>
/* Spins argv[1] million iterations without a system call, then exits 0 (for the preemption benchmark). */
int main(int argc, char **argv) {
    unsigned long n = (argc > 1 ? strtoul(argv[1], 0, 10) : 100) * 1000000UL;
    for (volatile unsigned long i = 0; i < n; i++) {
    }
    return 0;
}
