/*
 * The vDSO's parameter page ("vvar"): one 4 KiB page placed directly before the vDSO image in the guest's
 * address space, written by the host and only read by the guest. The layout is part of the micro guest's
 * ABI (docs/micro-guest-abi.md, "vDSO"); the offsets below are checked at compile time.
 *
 * A clock's value at TSC reading t is
 *     clock[id] + ((t - tsc_base) * mult) >> shift   nanoseconds   (the product taken in 128 bits)
 * and the host brackets every update with seq: odd while it writes, then even and larger than before.
 */
#ifndef FLICKER_VDSO_PARAMS_H
#define FLICKER_VDSO_PARAMS_H

#include <stdint.h>

#define VDSO_PARAMS_VERSION 1
#define VDSO_PARAMS_SIZE    4096   /* the page sits at (vDSO image base - VDSO_PARAMS_SIZE) */
#define VDSO_MODE_SYSCALL   0      /* every call is the real system call (no usable TSC) */
#define VDSO_MODE_TSC       1      /* clocks in clock_mask are computed from the TSC */
#define VDSO_CLOCKS         16     /* clock ids 0..15 have a slot; larger ids always make the system call */

struct vdso_clock_base {
    uint64_t sec;   /* the clock at tsc_base: seconds */
    uint64_t nsec;  /* and nanoseconds, below 1e9 */
};

struct vdso_params {
    uint32_t seq;                 /* 0x00: odd while the host writes */
    uint32_t version;             /* 0x04: VDSO_PARAMS_VERSION, else every call is a system call */
    uint32_t mode;                /* 0x08: VDSO_MODE_* */
    uint32_t clock_mask;          /* 0x0c: bit n set = clock id n is computed here */
    uint64_t tsc_base;            /* 0x10: the guest's TSC when the bases were taken */
    uint64_t mult;                /* 0x18: nanoseconds per TSC tick, times 2^shift */
    uint32_t shift;               /* 0x20: at most 63 */
    uint32_t reserved0;           /* 0x24: 0 */
    uint64_t reserved1;           /* 0x28: 0 */
    struct vdso_clock_base clock[VDSO_CLOCKS]; /* 0x30: indexed by clock id; 16 bytes each, up to 0x130 */
};

_Static_assert(__builtin_offsetof(struct vdso_params, seq) == 0x00, "seq");
_Static_assert(__builtin_offsetof(struct vdso_params, version) == 0x04, "version");
_Static_assert(__builtin_offsetof(struct vdso_params, mode) == 0x08, "mode");
_Static_assert(__builtin_offsetof(struct vdso_params, clock_mask) == 0x0c, "clock_mask");
_Static_assert(__builtin_offsetof(struct vdso_params, tsc_base) == 0x10, "tsc_base");
_Static_assert(__builtin_offsetof(struct vdso_params, mult) == 0x18, "mult");
_Static_assert(__builtin_offsetof(struct vdso_params, shift) == 0x20, "shift");
_Static_assert(__builtin_offsetof(struct vdso_params, clock) == 0x30, "clock");
_Static_assert(sizeof(struct vdso_params) == 0x130, "size");

#endif
