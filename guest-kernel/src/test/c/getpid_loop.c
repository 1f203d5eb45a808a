#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
/* Makes argv[1] getpid calls; with argv[2] set, prints each call's duration in ns (for the host-call benchmark). */
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    int report = argc > 2;
    struct timespec a, b;
    for (long i = 0; i < n; i++) {
        if (report) clock_gettime(CLOCK_MONOTONIC, &a);
        syscall(SYS_getpid);
        if (report) { clock_gettime(CLOCK_MONOTONIC, &b); printf("%ld\n", (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec)); }
    }
    return 0;
}
