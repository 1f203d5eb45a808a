#include <stdio.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
/*
 * Reads the clocks through its libc, which finds the vDSO through AT_SYSINFO_EHDR: once before its event (read on
 * stdin, the snapshot point) and once after. Prints, per reading, CLOCK_REALTIME and CLOCK_MONOTONIC in nanoseconds,
 * gettimeofday in microseconds and time() in seconds, then AT_SYSINFO_EHDR.
 */
static void probe(const char *when) {
    struct timespec rt, mono;
    struct timeval tv;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    gettimeofday(&tv, 0);
    long t = (long) time(0);
    printf("%s realtime_ns=%lld monotonic_ns=%lld tod_us=%lld time_s=%ld\n", when,
           (long long) rt.tv_sec * 1000000000LL + rt.tv_nsec, (long long) mono.tv_sec * 1000000000LL + mono.tv_nsec,
           (long long) tv.tv_sec * 1000000LL + tv.tv_usec, t);
}

int main(void) {
    probe("before");
    char event[64];
    if (read(0, event, sizeof event) < 0) return 4;
    probe("after");
    printf("sysinfo_ehdr=%#lx\n", getauxval(AT_SYSINFO_EHDR));
    return 0;
}
