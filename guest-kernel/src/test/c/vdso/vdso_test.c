/*
 * Tests the micro guest's vDSO image natively on the host: maps the built vdso.so with a parameter page
 * before it (as the micro guest will), fills the page from the host's own clocks and TSC frequency, finds
 * the functions through the ELF dynamic symbol table (vdso_elf.h), and checks what they return.
 *
 *   vdso_test PATH/TO/vdso.so
 *
 * Prints "ok NAME" or "FAIL NAME: detail" per check and exits 1 if any failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vdso_elf.h"
#include "vdso_params.h"

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, struct timezone *);
typedef long (*time_fn)(long *);
typedef int (*clock_getres_fn)(clockid_t, struct timespec *);
typedef int (*getcpu_fn)(unsigned *, unsigned *, void *);

static clock_gettime_fn vdso_clock_gettime;
static gettimeofday_fn vdso_gettimeofday;
static time_fn vdso_time;
static clock_getres_fn vdso_clock_getres;
static getcpu_fn vdso_getcpu;
static struct vdso_params *params;
static uint64_t tsc_hz;
static int failures;

#define TOLERANCE_NS 5000000LL   /* "within a few ms" of the host's own clock */
#define HANDLED_CLOCKS ((1u << CLOCK_REALTIME) | (1u << CLOCK_MONOTONIC) | (1u << CLOCK_MONOTONIC_RAW) | \
                        (1u << CLOCK_REALTIME_COARSE) | (1u << CLOCK_MONOTONIC_COARSE) | (1u << CLOCK_BOOTTIME))

static void check(int good, const char *name, const char *detail_format, ...) __attribute__((format(printf, 3, 4)));
static void check(int good, const char *name, const char *detail_format, ...) {
    if (good) {
        printf("ok %s\n", name);
        return;
    }
    failures++;
    printf("FAIL %s: ", name);
    va_list args;
    va_start(args, detail_format);
    vprintf(detail_format, args);
    va_end(args);
    printf("\n");
}

static uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t) hi << 32) | lo;
}

static int64_t ns_of(struct timespec ts) { return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec; }

static int64_t host_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ns_of(ts);
}

/* The TSC frequency: the kernel's own figure when it has one, else measured against CLOCK_MONOTONIC_RAW. */
static uint64_t measure_tsc_hz(void) {
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/tsc_freq_khz", "r");
    unsigned long long khz = 0;
    if (f) {
        if (fscanf(f, "%llu", &khz) != 1) khz = 0;
        fclose(f);
    }
    if (khz) {
        printf("tsc: %llu kHz from /sys/devices/system/cpu/cpu0/tsc_freq_khz\n", khz);
        return khz * 1000;
    }
    uint64_t t0 = rdtsc();
    int64_t m0 = host_ns(CLOCK_MONOTONIC_RAW);
    struct timespec nap = {0, 200000000};
    nanosleep(&nap, 0);
    uint64_t t1 = rdtsc();
    int64_t m1 = host_ns(CLOCK_MONOTONIC_RAW);
    uint64_t hz = (uint64_t) ((unsigned __int128) (t1 - t0) * 1000000000u / (uint64_t) (m1 - m0));
    printf("tsc: %llu Hz calibrated against CLOCK_MONOTONIC_RAW over 200 ms\n", (unsigned long long) hz);
    return hz;
}

/* The host's side of the seqlock: odd while writing, then even and larger. */
static void write_begin(void) {
    __atomic_store_n(&params->seq, params->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(void) {
    __atomic_store_n(&params->seq, params->seq + 1, __ATOMIC_RELEASE);
}

/* What the host does at boot and after every restore: the guest's TSC now, and every clock now. */
static void fill_params(void) {
    write_begin();
    params->version = VDSO_PARAMS_VERSION;
    params->mode = VDSO_MODE_TSC;
    params->clock_mask = HANDLED_CLOCKS;
    params->shift = 32;
    params->mult = (uint64_t) (((unsigned __int128) 1000000000u << 32) / tsc_hz);
    params->tsc_base = rdtsc();
    for (int id = 0; id < VDSO_CLOCKS; id++) {
        struct timespec ts = {0, 0};
        /* A coarse clock is its fine clock read at tick resolution: the base is the fine clock. */
        clockid_t source = id == CLOCK_REALTIME_COARSE ? CLOCK_REALTIME : id == CLOCK_MONOTONIC_COARSE ? CLOCK_MONOTONIC : id;
        if (HANDLED_CLOCKS & (1u << id)) clock_gettime(source, &ts);
        params->clock[id].sec = (uint64_t) ts.tv_sec;
        params->clock[id].nsec = (uint64_t) ts.tv_nsec;
    }
    write_end();
}

static void *map_image(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        exit(2);
    }
    size_t image_bytes = ((size_t) st.st_size + 4095) & ~(size_t) 4095;
    char *region = mmap(0, VDSO_PARAMS_SIZE + image_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED || read(fd, region + VDSO_PARAMS_SIZE, (size_t) st.st_size) != st.st_size) {
        perror("map");
        exit(2);
    }
    close(fd);
    if (mprotect(region + VDSO_PARAMS_SIZE, image_bytes, PROT_READ | PROT_EXEC) != 0) {
        perror("mprotect");
        exit(2);
    }
    params = (struct vdso_params *) region;
    return region + VDSO_PARAMS_SIZE;
}

static void test_symbols(const void *image) {
    struct vdso_image im;
    const char *error = vdso_image_open(image, &im);
    check(error == 0, "elf", "%s", error ? error : "");
    if (error) exit(1);
    check(!im.relocations, "no-relocations", "the dynamic section asks for relocation");
    const char *names[] = {"__vdso_clock_gettime", "clock_gettime", "__vdso_gettimeofday", "gettimeofday", "__vdso_time",
                           "time", "__vdso_clock_getres", "clock_getres", "__vdso_getcpu", "getcpu"};
    int found = 1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        void *by_hash = vdso_lookup_hash(&im, names[i], "LINUX_2.6");
        void *by_gnu_hash = vdso_lookup_gnu_hash(&im, names[i], "LINUX_2.6");
        if (!by_hash || by_hash != by_gnu_hash) {
            printf("  %s: DT_HASH %p, DT_GNU_HASH %p\n", names[i], by_hash, by_gnu_hash);
            found = 0;
        }
    }
    check(found, "lookup-hash-and-gnu-hash", "a symbol is missing from a hash table (above)");
    check(vdso_lookup_hash(&im, "clock_gettime", "LINUX_2.6") == vdso_lookup_hash(&im, "__vdso_clock_gettime", "LINUX_2.6"),
          "plain-names-alias", "clock_gettime and __vdso_clock_gettime differ");
    check(!vdso_lookup_hash(&im, "__vdso_clock_gettime", "LINUX_2.5") && !vdso_lookup_gnu_hash(&im, "__vdso_clock_gettime", "LINUX_2.5") &&
          !vdso_lookup_gnu_hash(&im, "__vdso_nothing", "LINUX_2.6"),
          "lookup-respects-versions", "a wrong version or name was found");
    vdso_clock_gettime = (clock_gettime_fn) vdso_lookup_gnu_hash(&im, "__vdso_clock_gettime", "LINUX_2.6");
    vdso_gettimeofday = (gettimeofday_fn) vdso_lookup_gnu_hash(&im, "__vdso_gettimeofday", "LINUX_2.6");
    vdso_time = (time_fn) vdso_lookup_gnu_hash(&im, "__vdso_time", "LINUX_2.6");
    vdso_clock_getres = (clock_getres_fn) vdso_lookup_gnu_hash(&im, "__vdso_clock_getres", "LINUX_2.6");
    vdso_getcpu = (getcpu_fn) vdso_lookup_gnu_hash(&im, "__vdso_getcpu", "LINUX_2.6");
    if (!vdso_clock_gettime || !vdso_gettimeofday || !vdso_time || !vdso_clock_getres || !vdso_getcpu) exit(1);
}

/*
 * The vDSO's clock lies between two reads of the host's, give or take TOLERANCE_NS (and, for a coarse clock,
 * the host's tick: the host's coarse clock lags its fine one by up to a tick, the vDSO's does not).
 */
static void test_close_to_host(clockid_t clock, const char *name) {
    int64_t worst = 0, tolerance = TOLERANCE_NS;
    int good = 1;
    struct timespec res;
    if (clock == CLOCK_REALTIME_COARSE || clock == CLOCK_MONOTONIC_COARSE) {
        clock_getres(clock, &res);
        tolerance += ns_of(res);
    }
    for (int i = 0; i < 1000; i++) {
        struct timespec ts;
        int64_t before = host_ns(clock);
        int r = vdso_clock_gettime(clock, &ts);
        int64_t after = host_ns(clock);
        int64_t v = ns_of(ts);
        int64_t off = v < before ? before - v : v > after ? v - after : 0;
        if (off > worst) worst = off;
        if (r != 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000 || off > tolerance) good = 0;
    }
    check(good, name, "off the host's clock by up to %lld ns (tolerance %lld)", (long long) worst, (long long) tolerance);
}

static void test_monotonic(void) {
    struct timespec last, now;
    int good = vdso_clock_gettime(CLOCK_MONOTONIC, &last) == 0;
    long backwards = 0;
    for (int i = 0; i < 100000; i++) {
        if (vdso_clock_gettime(CLOCK_MONOTONIC, &now) != 0) good = 0;
        if (ns_of(now) < ns_of(last)) backwards++;
        last = now;
    }
    check(good && backwards == 0, "monotonic-over-100000-calls", "%ld steps backwards", backwards);
}

static void test_other_calls(void) {
    struct timeval tv;
    struct timezone tz = {99, 99};
    int64_t before = host_ns(CLOCK_REALTIME);
    int r = vdso_gettimeofday(&tv, &tz);
    int64_t after = host_ns(CLOCK_REALTIME);
    int64_t v = (int64_t) tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
    check(r == 0 && v >= before - TOLERANCE_NS - 1000 && v <= after + TOLERANCE_NS && tz.tz_minuteswest == 0 && tz.tz_dsttime == 0,
          "gettimeofday", "r=%d off by %lld ns, tz %d/%d", r, (long long) (v - before), tz.tz_minuteswest, tz.tz_dsttime);
    check(vdso_gettimeofday(0, 0) == 0, "gettimeofday-null", "NULL arguments are allowed");
    long t = 0;
    long now = (long) (host_ns(CLOCK_REALTIME) / 1000000000LL);
    long got = vdso_time(&t);
    check(got == t && got >= now - 1 && got <= now + 1, "time", "time()=%ld stored %ld host %ld", got, t, now);
    check(vdso_time(0) >= now - 1, "time-null", "time(NULL) failed");
    unsigned cpu = 7, node = 7;
    check(vdso_getcpu(&cpu, &node, 0) == 0 && cpu == 0 && node == 0, "getcpu", "cpu %u node %u", cpu, node);
    struct timespec res = {9, 9};
    check(vdso_clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec == 1, "clock_getres",
          "%ld.%09ld", (long) res.tv_sec, res.tv_nsec);
}

static void *finish_write_later(void *unused) {
    (void) unused;
    struct timespec nap = {0, 20000000};
    nanosleep(&nap, 0);
    params->clock[CLOCK_REALTIME].sec += 1000; /* a different time: only a reader that waited can see it */
    write_end();
    return 0;
}

/* An odd sequence number means the host is writing: the reader waits, then reads the new values. */
static void test_seqlock_waits_for_odd(void) {
    pthread_t writer;
    write_begin();
    pthread_create(&writer, 0, finish_write_later, 0);
    struct timespec ts;
    int64_t before = host_ns(CLOCK_REALTIME);
    int r = vdso_clock_gettime(CLOCK_REALTIME, &ts);
    pthread_join(writer, 0);
    int64_t ahead = ns_of(ts) - before;
    check(r == 0 && ahead >= 999000000000LL && ahead <= 1001000000000LL, "seqlock-odd-retries",
          "read %lld ns ahead of the host, expected the new values (1000 s ahead)", (long long) ahead);
    fill_params();
}

static volatile int stop_flipping;
static volatile long flips;

/*
 * Alternates between two parameter sets that describe the same clock, with TSC bases 10 s apart (the second
 * one earlier: a base in the TSC's future would read as the base itself).
 */
static void *flip_params(void *unused) {
    (void) unused;
    uint64_t delta_tsc = tsc_hz * 10;
    while (!stop_flipping) {
        write_begin();
        int forward = (flips & 1) == 0;
        for (int id = 0; id < VDSO_CLOCKS; id++)
            if (HANDLED_CLOCKS & (1u << id)) params->clock[id].sec += forward ? (uint64_t) -10 : 10;
        for (int i = 0; i < 200; i++) __builtin_ia32_pause(); /* a slow writer: a reader that does not wait would tear */
        params->tsc_base += forward ? -delta_tsc : delta_tsc;
        write_end();
        flips++;
        /* A gap between writes: a seqlock reader only completes between two writes, and a writer with no gap
           would starve it (the reader would retry forever on a loaded host). */
        for (int i = 0; i < 1000; i++) __builtin_ia32_pause();
    }
    return 0;
}

/*
 * With a writer changing the page all the time, no read may mix the two sets (it would be 10 s off). Reads go
 * on until both sides did enough: 200,000 reads and 10,000 writes.
 */
static void test_seqlock_never_tears(void) {
    pthread_t writer;
    stop_flipping = 0;
    flips = 0;
    pthread_create(&writer, 0, flip_params, 0);
    long torn = 0, reads = 0;
    int64_t worst = 0;
    while ((reads < 200000 || flips < 10000) && reads < 50000000) {
        struct timespec ts;
        int64_t before = host_ns(CLOCK_MONOTONIC);
        vdso_clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t after = host_ns(CLOCK_MONOTONIC);
        int64_t v = ns_of(ts);
        int64_t off = v < before ? before - v : v > after ? v - after : 0;
        if (off > worst) worst = off;
        if (off > 1000000000LL) torn++;
        reads++;
    }
    stop_flipping = 1;
    pthread_join(writer, 0);
    check(torn == 0 && flips >= 10000, "seqlock-never-tears", "%ld of %ld reads mixed two parameter sets (%ld writes, worst %lld ns)",
          torn, reads, flips, (long long) worst);
    fill_params();
}

static void deny_clock_syscalls(void) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_gettime, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_gettimeofday, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_time, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_getres, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTRECOVERABLE),
    };
    struct sock_fprog program = {sizeof filter / sizeof *filter, filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        perror("seccomp");
        exit(2);
    }
}

/*
 * What is not computed here is the real system call. A seccomp filter makes the clock system calls fail with
 * ENOTRECOVERABLE, so a result of -ENOTRECOVERABLE proves the vDSO took the system call, and a clock that
 * still works proves it did not.
 */
static void test_fallback_to_syscall(void) {
    struct timespec ts;
    check(vdso_clock_gettime(100, &ts) == -EINVAL, "unknown-clock-is-the-syscall", "the kernel's -EINVAL expected");
    int64_t before = host_ns(CLOCK_PROCESS_CPUTIME_ID);
    int r = vdso_clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    int64_t after = host_ns(CLOCK_PROCESS_CPUTIME_ID);
    check(r == 0 && ns_of(ts) >= before && ns_of(ts) <= after, "cpu-clock-is-the-syscall", "r=%d", r);

    deny_clock_syscalls();
    check(vdso_clock_gettime(CLOCK_REALTIME, &ts) == 0, "realtime-makes-no-syscall", "it made the system call");
    check(vdso_clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == -ENOTRECOVERABLE, "cpu-clock-syscall-proven", "no system call");
    check(vdso_clock_gettime(100, &ts) == -ENOTRECOVERABLE && vdso_clock_gettime(-1, &ts) == -ENOTRECOVERABLE,
          "unknown-clock-syscall-proven", "no system call");
    check(vdso_clock_getres(100, &ts) == -ENOTRECOVERABLE, "clock_getres-unknown-syscall-proven", "no system call");
    params->clock_mask &= ~(1u << CLOCK_BOOTTIME);
    check(vdso_clock_gettime(CLOCK_BOOTTIME, &ts) == -ENOTRECOVERABLE, "clock-outside-mask-is-the-syscall", "no system call");
    params->version = VDSO_PARAMS_VERSION + 1;
    check(vdso_clock_gettime(CLOCK_REALTIME, &ts) == -ENOTRECOVERABLE, "unknown-layout-version-is-the-syscall", "no system call");
    params->version = VDSO_PARAMS_VERSION;
    params->mode = VDSO_MODE_SYSCALL;
    struct timeval tv;
    check(vdso_clock_gettime(CLOCK_REALTIME, &ts) == -ENOTRECOVERABLE && vdso_gettimeofday(&tv, 0) == -ENOTRECOVERABLE &&
          vdso_time(0) == -ENOTRECOVERABLE && vdso_clock_getres(CLOCK_REALTIME, &ts) == -ENOTRECOVERABLE,
          "mode-syscall-is-the-syscall", "no system call");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: vdso_test PATH/TO/vdso.so\n");
        return 2;
    }
    setvbuf(stdout, 0, _IOLBF, 0);
    const void *image = map_image(argv[1]);
    tsc_hz = measure_tsc_hz();
    fill_params();
    test_symbols(image);
    test_close_to_host(CLOCK_REALTIME, "realtime-close-to-host");
    test_close_to_host(CLOCK_MONOTONIC, "monotonic-close-to-host");
    test_close_to_host(CLOCK_BOOTTIME, "boottime-close-to-host");
    test_close_to_host(CLOCK_MONOTONIC_RAW, "monotonic-raw-close-to-host");
    test_close_to_host(CLOCK_REALTIME_COARSE, "realtime-coarse-close-to-host");
    test_close_to_host(CLOCK_MONOTONIC_COARSE, "monotonic-coarse-close-to-host");
    test_monotonic();
    test_other_calls();
    test_seqlock_waits_for_odd();
    test_seqlock_never_tears();
    test_fallback_to_syscall();
    printf("vdso_test: %s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
