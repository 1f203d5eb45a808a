/*
 * LD_PRELOAD shim for the survey: routes the clock functions through the real system call instead of the
 * host's vDSO, so that strace sees (and counts) every clock read, as the micro guest would without a vDSO.
 */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int clock_gettime(clockid_t clock, struct timespec *ts) { return syscall(SYS_clock_gettime, clock, ts); }
int clock_getres(clockid_t clock, struct timespec *ts) { return syscall(SYS_clock_getres, clock, ts); }
int gettimeofday(struct timeval *tv, void *tz) { return syscall(SYS_gettimeofday, tv, tz); }
time_t time(time_t *t) { return syscall(SYS_time, t); }
