#include <stdlib.h>
#include <string.h>
#include <time.h>
/* Touches argv[1] MiB of heap, then stays alive argv[2] milliseconds (for the density benchmark). */
int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 16, ms = argc > 2 ? atol(argv[2]) : 1000;
    char *p = malloc(mib << 20);
    if (!p) return 1;
    memset(p, 1, mib << 20);
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, 0);
    return p[12345] == 1 ? 0 : 2;
}
