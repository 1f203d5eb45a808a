/*
 * Starts a program with the micro guest's vDSO as its vDSO, the way the micro guest will start it: maps the
 * vDSO image with its parameter page before it, loads the program (a static executable, or ld.so to load a
 * dynamic one), builds a fresh stack whose auxiliary vector names the image in AT_SYSINFO_EHDR, and jumps to
 * the entry point. The program's libc then finds the vDSO's functions through its own lookup (glibc's
 * dl_vdso_vsym, musl's __vdsosym), which is what this checks.
 *
 * The parameter page says that CLOCK_REALTIME is 1,000,000,000 s (2001-09-09T01:46:40Z) plus the time since
 * the launch, so a program that prints a time near that read it through this vDSO; the kernel's own vDSO or
 * a system call would give today.
 *
 *   vdso_launch VDSO_SO PROGRAM [ARGS...]        e.g. vdso_launch vdso.so /lib64/ld-linux-x86-64.so.2 ./probe
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vdso_params.h"

#define PAGE 4096UL
#define PAGE_DOWN(x) ((x) & ~(PAGE - 1))
#define PAGE_UP(x) (((x) + PAGE - 1) & ~(PAGE - 1))
#define FAKE_REALTIME_SEC 1000000000UL
#define STACK_BYTES (256 * 1024)

extern char **environ;

static void die(const char *what) {
    perror(what);
    exit(2);
}

static uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t) hi << 32) | lo;
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The vDSO image at a page boundary, its parameter page right before it, filled as the host would. */
static void *map_vdso(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) die(path);
    size_t image_bytes = PAGE_UP((size_t) st.st_size);
    char *region = mmap(0, PAGE + image_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED || read(fd, region + PAGE, (size_t) st.st_size) != st.st_size) die("vdso image");
    close(fd);

    uint64_t t0 = rdtsc();
    int64_t m0 = mono_ns();
    struct timespec nap = {0, 50000000};
    nanosleep(&nap, 0);
    uint64_t hz = (uint64_t) ((unsigned __int128) (rdtsc() - t0) * 1000000000u / (uint64_t) (mono_ns() - m0));

    struct vdso_params *p = (struct vdso_params *) region;
    struct timespec mono;
    p->seq = 2;
    p->version = VDSO_PARAMS_VERSION;
    p->mode = VDSO_MODE_TSC;
    p->clock_mask = (1u << CLOCK_REALTIME) | (1u << CLOCK_MONOTONIC);
    p->shift = 32;
    p->mult = (uint64_t) (((unsigned __int128) 1000000000u << 32) / hz);
    p->tsc_base = rdtsc();
    clock_gettime(CLOCK_MONOTONIC, &mono);
    p->clock[CLOCK_REALTIME].sec = FAKE_REALTIME_SEC;
    p->clock[CLOCK_MONOTONIC].sec = (uint64_t) mono.tv_sec;
    p->clock[CLOCK_MONOTONIC].nsec = (uint64_t) mono.tv_nsec;
    /* As in the guest: the parameter page is read-only, the image read-only and executable. */
    if (mprotect(region, PAGE, PROT_READ) != 0 || mprotect(region + PAGE, image_bytes, PROT_READ | PROT_EXEC) != 0)
        die("mprotect");
    return region + PAGE;
}

struct loaded {
    uintptr_t entry, phdr;
    int phnum;
};

static int prot_of(uint32_t flags) {
    return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

/* Maps every PT_LOAD: an ET_EXEC at its own addresses, an ET_DYN wherever the kernel puts the span. */
static struct loaded load_elf(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    Elf64_Ehdr eh;
    if (fd < 0 || pread(fd, &eh, sizeof eh, 0) != sizeof eh) die(path);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 64) {
        fprintf(stderr, "%s: not a 64-bit ELF\n", path);
        exit(2);
    }
    Elf64_Phdr ph[64];
    size_t ph_bytes = eh.e_phnum * sizeof(Elf64_Phdr);
    if (pread(fd, ph, ph_bytes, (off_t) eh.e_phoff) != (ssize_t) ph_bytes) die("program headers");
    uintptr_t low = UINTPTR_MAX, high = 0;
    for (int i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type == PT_INTERP) {
            fprintf(stderr, "%s has an interpreter: launch its ld.so with it as the argument\n", path);
            exit(2);
        }
        if (ph[i].p_type != PT_LOAD) continue;
        if (PAGE_DOWN(ph[i].p_vaddr) < low) low = PAGE_DOWN(ph[i].p_vaddr);
        if (PAGE_UP(ph[i].p_vaddr + ph[i].p_memsz) > high) high = PAGE_UP(ph[i].p_vaddr + ph[i].p_memsz);
    }
    int fixed = eh.e_type == ET_EXEC;
    char *span = mmap(fixed ? (void *) low : 0, high - low, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | (fixed ? MAP_FIXED_NOREPLACE : 0), -1, 0);
    if (span == MAP_FAILED) die("reserve");
    uintptr_t bias = (uintptr_t) span - low;
    struct loaded l = {bias + eh.e_entry, 0, eh.e_phnum};
    for (int i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type == PT_PHDR) l.phdr = bias + ph[i].p_vaddr;
        if (ph[i].p_type != PT_LOAD) continue;
        uintptr_t start = bias + PAGE_DOWN(ph[i].p_vaddr);
        uintptr_t file_end = bias + ph[i].p_vaddr + ph[i].p_filesz;
        uintptr_t mem_end = bias + ph[i].p_vaddr + ph[i].p_memsz;
        int prot = prot_of(ph[i].p_flags);
        if (ph[i].p_filesz &&
            mmap((void *) start, PAGE_UP(file_end) - start, prot, MAP_PRIVATE | MAP_FIXED, fd, (off_t) PAGE_DOWN(ph[i].p_offset)) == MAP_FAILED)
            die("segment");
        if (ph[i].p_memsz > ph[i].p_filesz) { /* .bss: the rest of the last file page, then anonymous pages */
            if ((file_end & (PAGE - 1)) && (prot & PROT_WRITE)) memset((void *) file_end, 0, PAGE_UP(file_end) - file_end);
            if (PAGE_UP(mem_end) > PAGE_UP(file_end) &&
                mmap((void *) PAGE_UP(file_end), PAGE_UP(mem_end) - PAGE_UP(file_end), prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
                die("bss");
        }
        if (!l.phdr && ph[i].p_offset == 0) l.phdr = bias + ph[i].p_vaddr + eh.e_phoff;
    }
    close(fd);
    return l;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: vdso_launch VDSO_SO PROGRAM [ARGS...]\n");
        return 2;
    }
    void *vdso = map_vdso(argv[1]);
    struct loaded prog = load_elf(argv[2]);
    printf("launch: vdso at %#lx\n", (unsigned long) (uintptr_t) vdso);
    fflush(stdout);

    /* The new stack: strings at the top, then (16-byte aligned) argc, argv, envp and the auxiliary vector. */
    char *stack = mmap(0, STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) die("stack");
    char *top = stack + STACK_BYTES;
    int new_argc = argc - 2, envc = 0;
    while (environ[envc]) envc++;
    char **strings = calloc((size_t) (new_argc + envc), sizeof(char *));
    for (int i = 0; i < new_argc + envc; i++) {
        const char *s = i < new_argc ? argv[2 + i] : environ[i - new_argc];
        top -= strlen(s) + 1;
        strcpy(top, s);
        strings[i] = top;
    }
    top -= sizeof "x86_64";
    strcpy(top, "x86_64");
    char *platform = top;
    top -= 16;
    unsigned char *random_bytes = (unsigned char *) top;
    for (int i = 0; i < 16; i++) random_bytes[i] = (unsigned char) rand();
    uint64_t auxv[][2] = {
        {AT_PHDR, prog.phdr}, {AT_PHENT, sizeof(Elf64_Phdr)}, {AT_PHNUM, (uint64_t) prog.phnum}, {AT_PAGESZ, PAGE},
        {AT_BASE, 0}, {AT_FLAGS, 0}, {AT_ENTRY, prog.entry}, {AT_UID, getuid()}, {AT_EUID, geteuid()},
        {AT_GID, getgid()}, {AT_EGID, getegid()}, {AT_SECURE, 0}, {AT_RANDOM, (uintptr_t) random_bytes},
        {AT_HWCAP, getauxval(AT_HWCAP)}, {AT_HWCAP2, getauxval(AT_HWCAP2)}, {AT_CLKTCK, 100},
        {AT_PLATFORM, (uintptr_t) platform}, {AT_EXECFN, (uintptr_t) strings[0]},
        {AT_SYSINFO_EHDR, (uintptr_t) vdso}, {AT_NULL, 0},
    };
    size_t words = 1 + (size_t) new_argc + 1 + (size_t) envc + 1 + 2 * (sizeof auxv / sizeof *auxv);
    uint64_t *sp = (uint64_t *) (((uintptr_t) top - words * 8) & ~(uintptr_t) 15);
    uint64_t *w = sp;
    *w++ = (uint64_t) new_argc;
    for (int i = 0; i < new_argc; i++) *w++ = (uintptr_t) strings[i];
    *w++ = 0;
    for (int i = 0; i < envc; i++) *w++ = (uintptr_t) strings[new_argc + i];
    *w++ = 0;
    memcpy(w, auxv, sizeof auxv);

    /* As the kernel starts a process: rsp at argc, rdx 0 (no function for atexit). */
    __asm__ volatile("mov %0, %%rsp\n\txor %%edx, %%edx\n\tjmp *%%rax" : : "r"(sp), "a"(prog.entry) : "rdx", "memory");
    __builtin_unreachable();
}
