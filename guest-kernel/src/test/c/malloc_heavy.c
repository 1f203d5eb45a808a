#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
/* Exercises brk (many small blocks) and mmap (large blocks), and checks the bytes survive. */
int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 16;
    enum { N = 20000 };
    static char *small[N];
    for (int i = 0; i < N; i++) { small[i] = malloc(64 + i % 200); if (!small[i]) return 3; memset(small[i], i & 0xff, 64); }
    long sum = 0;
    for (int i = 0; i < N; i++) sum += (unsigned char) small[i][63];
    for (int i = 0; i < N; i += 2) free(small[i]);
    char *big = malloc(mib << 20);
    if (!big) { printf("big malloc failed\n"); return 4; }
    memset(big, 7, mib << 20);
    long bigsum = 0;
    for (long i = 0; i < (mib << 20); i += 4096) bigsum += big[i];
    char *r = realloc(big, (mib << 20) + (1 << 20));
    if (!r) return 5;
    free(r);
    void *m = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 6;
    memset(m, 1, 1 << 20);
    if (mprotect(m, 4096, PROT_READ) != 0) return 7;
    munmap(m, 1 << 20);
    printf("sum=%ld bigsum=%ld\n", sum, bigsum);
    return 0;
}
