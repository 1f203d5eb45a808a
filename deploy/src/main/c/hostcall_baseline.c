/*
 * The C anchor for the host-call benchmark: the same mechanism as Flicker's micro guest (SYSCALL -> LSTAR
 * stub in ring 3 under PVM -> store to an unbacked page = KVM_EXIT_MMIO -> host answers in a shared page ->
 * popfq + jmp back), driven from C with no JVM. Prints the p50 and p99 of the time between consecutive
 * host calls of a getpid loop, in microseconds, as "p50 p99".
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#define MEM (8 << 20)
#define CODE 0x100000
#define STUB 0x101000
#define SHARED 0x102000
#define DOORBELL 0x10000000ULL

/* Guest code, assembled by gcc into the host binary and copied into guest memory. */
__asm__(".pushsection .rodata\n"
        ".globl guest_loop, guest_loop_end, guest_stub, guest_stub_end\n"
        "guest_loop: mov $20000, %ebx\n"
        "1: mov $39, %eax\n syscall\n dec %ebx\n jnz 1b\n mov $60, %eax\n syscall\n"
        "guest_loop_end:\n"
        "guest_stub: mov %rax, 0x102000\n mov %rdi, 0x102008\n mov %rsi, 0x102010\n mov %rdx, 0x102018\n"
        " mov %r10, 0x102020\n mov %r8, 0x102028\n mov %r9, 0x102030\n mov %rcx, 0x102038\n mov %r11, 0x102040\n"
        " mov %rax, 0x10000000\n mov 0x102048, %rax\n mov 0x102038, %rcx\n mov 0x102040, %r11\n"
        " mov %rsp, 0x102050\n mov $0x102100, %rsp\n push %r11\n popfq\n mov 0x102050, %rsp\n jmp *%rcx\n"
        "guest_stub_end:\n"
        ".popsection\n");
extern const uint8_t guest_loop[], guest_loop_end[], guest_stub[], guest_stub_end[];

static int cmp(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

#define CHECK(x) do { if ((x) < 0) { perror(#x); exit(1); } } while (0)

int main(void) {
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    CHECK(kvm);
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    CHECK(vm);
    uint8_t *mem = mmap(0, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    struct kvm_userspace_memory_region region = {.slot = 0, .guest_phys_addr = 0, .memory_size = MEM, .userspace_addr = (uint64_t) mem};
    CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region));
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    CHECK(vcpu);
    struct kvm_run *run = mmap(0, ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);

    /* Identity map of the first 8 MiB (2 MiB pages, user) and the doorbell page to unbacked memory. */
    uint64_t *pml4 = (void *) (mem + 0x1000), *pdpt = (void *) (mem + 0x2000), *pd = (void *) (mem + 0x3000);
    pml4[0] = 0x2000 | 7;
    pdpt[0] = 0x3000 | 7;
    for (int i = 0; i < 4; i++) pd[i] = ((uint64_t) i << 21) | 0x87;
    pd[DOORBELL >> 21] = DOORBELL | 0x87;
    uint64_t *gdt = (void *) (mem + 0x4000);
    gdt[1] = 0x00af9b000000ffffULL; gdt[2] = 0x00cf93000000ffffULL; gdt[3] = 0x00cff3000000ffffULL; gdt[4] = 0x00affb000000ffffULL;
    memcpy(mem + CODE, guest_loop, guest_loop_end - guest_loop);
    memcpy(mem + STUB, guest_stub, guest_stub_end - guest_stub);

    struct kvm_sregs sr;
    CHECK(ioctl(vcpu, KVM_GET_SREGS, &sr));
    struct kvm_segment cs = {.limit = 0xffffffff, .selector = 0x23, .type = 11, .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1};
    struct kvm_segment ds = {.limit = 0xffffffff, .selector = 0x1b, .type = 3, .present = 1, .dpl = 3, .db = 1, .s = 1, .g = 1};
    sr.cs = cs; sr.ds = sr.es = sr.fs = sr.gs = sr.ss = ds;
    sr.gdt.base = 0x4000; sr.gdt.limit = 39;
    sr.cr3 = 0x1000; sr.cr4 = 0x20 | 0x200 | 0x400; sr.cr0 = 0x80000001 | 0x10 | 0x20 | 0x10000; sr.efer = 0x500 | 1;
    CHECK(ioctl(vcpu, KVM_SET_SREGS, &sr));
    struct { struct kvm_msrs h; struct kvm_msr_entry e[3]; } msrs = {.h.nmsrs = 3};
    msrs.e[0].index = 0xc0000082; msrs.e[0].data = STUB;                                   /* LSTAR */
    msrs.e[1].index = 0xc0000081; msrs.e[1].data = (0x10ULL << 48) | (0x08ULL << 32);      /* STAR */
    msrs.e[2].index = 0xc0000084; msrs.e[2].data = 0x47700;                                /* SFMASK */
    CHECK(ioctl(vcpu, KVM_SET_MSRS, &msrs));
    struct kvm_regs regs = {.rip = CODE, .rsp = 0x300000, .rflags = 2};
    CHECK(ioctl(vcpu, KVM_SET_REGS, &regs));

    static double t[20002];
    int calls = 0;
    for (;;) {
        CHECK(ioctl(vcpu, KVM_RUN, 0));
        if (run->exit_reason != KVM_EXIT_MMIO) { fprintf(stderr, "unexpected exit %d\n", run->exit_reason); return 1; }
        t[calls++] = now_us();
        uint64_t nr = *(uint64_t *) (mem + SHARED);
        if (nr == 60) break;
        *(uint64_t *) (mem + SHARED + 0x48) = 1; /* getpid() = 1 */
    }
    int n = calls - 1;
    double *d = malloc(n * sizeof *d);
    for (int i = 0; i < n; i++) d[i] = t[i + 1] - t[i];
    qsort(d, n, sizeof *d, cmp);
    printf("%.2f %.2f\n", d[n / 2], d[(int) (n * 0.99)]);
    return 0;
}
