#include <stdio.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
/* Prints wall-clock seconds, a monotonic difference, and 16 random bytes in hex. */
int main(void) {
    struct timespec a, b, rt;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec nap = {0, 2000000};
    nanosleep(&nap, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    clock_gettime(CLOCK_REALTIME, &rt);
    struct timeval tv;
    gettimeofday(&tv, 0);
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != sizeof r) return 1;
    long slept_us = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
    printf("realtime=%ld tod=%ld time=%ld slept_us=%ld random=", (long) rt.tv_sec, (long) tv.tv_sec, (long) time(0), slept_us);
    for (int i = 0; i < 16; i++) printf("%02x", r[i]);
    printf("\n");
    return 0;
}
