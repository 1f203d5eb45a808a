/*
 * The micro guest's vDSO: clock_gettime, gettimeofday, time, clock_getres and getcpu without a host call.
 *
 * Clocks are computed from the TSC (rdtsc works in ring 3: the guest runs with CR4.TSD clear) and the
 * parameter page the host writes just before this image (vdso_params.h). A clock the page does not cover,
 * a page in VDSO_MODE_SYSCALL, or a layout version this code does not know makes the real system call,
 * which the micro guest turns into a host call. The image needs no relocation and no loader: libc finds
 * the functions through AT_SYSINFO_EHDR, DT_HASH/DT_GNU_HASH and the symbol version LINUX_2.6, as it finds
 * Linux's own vDSO. Nothing here writes memory except the caller's result.
 */
#include "vdso_params.h"

/* Kernel ABI types (no libc headers in a vDSO). */
struct kernel_timespec { long tv_sec; long tv_nsec; };
struct kernel_timeval { long tv_sec; long tv_usec; };
struct kernel_timezone { int tz_minuteswest; int tz_dsttime; };

#define SYS_gettimeofday  96
#define SYS_time          201
#define SYS_clock_gettime 228
#define SYS_clock_getres  229
#define CLOCK_REALTIME    0
#define NSEC_PER_SEC      1000000000UL

/* Defined by the linker script: the page directly before the image. */
extern const volatile struct vdso_params vdso_params __attribute__((visibility("hidden")));

static inline long syscall2(long nr, long a, long b) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "0"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return ret;
}

/* lfence first, so that the TSC is read after the loads of the parameters before it. */
static inline uint64_t rdtsc_ordered(void) {
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t) hi << 32) | lo;
}

/* The clock from the TSC, or -1 when this clock must be the system call. */
static int tsc_clock(unsigned clock, struct kernel_timespec *ts) {
    const volatile struct vdso_params *p = &vdso_params;
    uint64_t sec, nsec;
    uint32_t seq;
    if (clock >= VDSO_CLOCKS) return -1;
    do {
        seq = p->seq;
        while (seq & 1) { /* the host is writing: wait for it, as Linux's vDSO does */
            __builtin_ia32_pause();
            seq = p->seq;
        }
        __asm__ volatile("" ::: "memory");
        if (p->version != VDSO_PARAMS_VERSION || p->mode != VDSO_MODE_TSC || !(p->clock_mask & (1u << clock)))
            return -1;
        uint64_t delta = rdtsc_ordered() - p->tsc_base;
        if ((int64_t) delta < 0) delta = 0; /* a TSC behind the base (never written so): stay at the base */
        unsigned shift = p->shift & 63;
        nsec = p->clock[clock].nsec + (uint64_t) (((unsigned __int128) delta * p->mult) >> shift);
        sec = p->clock[clock].sec;
        __asm__ volatile("" ::: "memory");
    } while (p->seq != seq); /* x86 keeps loads in order, so a compiler barrier is enough here */
    ts->tv_sec = (long) (sec + nsec / NSEC_PER_SEC);
    ts->tv_nsec = (long) (nsec % NSEC_PER_SEC);
    return 0;
}

int __vdso_clock_gettime(int clock, struct kernel_timespec *ts) {
    if (tsc_clock((unsigned) clock, ts) == 0) return 0;
    return (int) syscall2(SYS_clock_gettime, clock, (long) ts);
}

int __vdso_gettimeofday(struct kernel_timeval *tv, struct kernel_timezone *tz) {
    if (tv) {
        struct kernel_timespec ts;
        if (tsc_clock(CLOCK_REALTIME, &ts) != 0) return (int) syscall2(SYS_gettimeofday, (long) tv, (long) tz);
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    if (tz) { /* the guest's time zone is UTC */
        tz->tz_minuteswest = 0;
        tz->tz_dsttime = 0;
    }
    return 0;
}

long __vdso_time(long *t) {
    struct kernel_timespec ts;
    if (tsc_clock(CLOCK_REALTIME, &ts) != 0) return syscall2(SYS_time, (long) t, 0);
    if (t) *t = ts.tv_sec;
    return ts.tv_sec;
}

/* Every clock computed here advances by the nanosecond, as the host's clock_getres says for all of them. */
int __vdso_clock_getres(int clock, struct kernel_timespec *res) {
    const volatile struct vdso_params *p = &vdso_params;
    unsigned id = (unsigned) clock;
    if (id < VDSO_CLOCKS && p->version == VDSO_PARAMS_VERSION && p->mode == VDSO_MODE_TSC && (p->clock_mask & (1u << id))) {
        if (res) {
            res->tv_sec = 0;
            res->tv_nsec = 1;
        }
        return 0;
    }
    return (int) syscall2(SYS_clock_getres, clock, (long) res);
}

/* The micro guest has one CPU and one node. (Not rdtscp or rdpid: under PVM they read the host's TSC_AUX.) */
int __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused) {
    (void) unused;
    if (cpu) *cpu = 0;
    if (node) *node = 0;
    return 0;
}

/* The plain names, as Linux's vDSO exports them too. */
int clock_gettime(int, struct kernel_timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct kernel_timeval *, struct kernel_timezone *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int, struct kernel_timespec *) __attribute__((weak, alias("__vdso_clock_getres")));
int getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));

/*
 * The kernel version as an ELF note, as Linux's vDSO carries it (glibc reads it instead of calling uname);
 * the same version as the host's uname (6.1.0).
 */
static const struct {
    uint32_t namesz, descsz, type;
    char name[8];
    uint32_t version;
} linux_version_note __attribute__((section(".note.Linux"), aligned(4), used)) = {6, 4, 0, "Linux", 0x060100};
