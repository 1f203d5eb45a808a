/* Started by vdso_launch: prints what its libc's clock functions and getauxval(AT_SYSINFO_EHDR) return. */
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>

int main(void) {
    struct timespec ts = {0, 0}, mono = {0, 0};
    struct timeval tv = {0, 0};
    clock_gettime(CLOCK_REALTIME, &ts);
    gettimeofday(&tv, 0);
    long t = (long) time(0);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    printf("probe: clock_gettime=%ld gettimeofday=%ld time=%ld monotonic=%ld sysinfo_ehdr=%#lx\n", (long) ts.tv_sec,
           (long) tv.tv_sec, t, (long) mono.tv_sec, getauxval(AT_SYSINFO_EHDR));
    return 0;
}
