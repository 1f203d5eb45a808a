/*
 * The micro guest's host-call ABI, guest side. The Java side is dev.flicker.guest.HostCallAbi; the image
 * embeds these values in its header and a test checks that both sides agree.
 *
 * Guest-physical layout (the first 2 MiB, mapped at KERNEL_WINDOW_VA):
 *   0x1000 GDT, 0x2000 IDT, 0x3000 TSS, 0x4000 host-call page, 0x5000-0x6fff ring-0 stack,
 *   0x100000 this image (32-bit PVH stub, then the 64-bit text whose first bytes are the header).
 */
#define HOSTCALL_ABI_VERSION   1
#define GUEST_IMAGE_MAGIC      0x315453474b4c46  /* "FLKGST1" little-endian */

#define KERNEL_WINDOW_VA       0xffffffffffe00000
#define HOSTCALL_PAGE_GPA      0x4000
#define HOSTCALL_PAGE_VA       (KERNEL_WINDOW_VA + HOSTCALL_PAGE_GPA)
#define RING0_STACK_TOP_GPA    0x7000
#define IMAGE_PHYS             0x100000
#define IMAGE_TEXT_PHYS        0x101000
#define IMAGE_TEXT_VA          (KERNEL_WINDOW_VA + IMAGE_TEXT_PHYS)
/* The doorbell: a page mapped to guest-physical memory that nothing backs, so a store exits to the host. */
#define DOORBELL_VA            (KERNEL_WINDOW_VA + 0x1ff000)
#define DOORBELL_GPA           0xd0000000
/* An exception in vector V is reported by "out %al, $(EXCEPTION_PORT_BASE + V)". */
#define EXCEPTION_PORT_BASE    0x80
/* QEMU's isa-debug-exit device, used only when QEMU boots this image for the benchmark. */
#define ISA_DEBUG_EXIT_PORT    0xf4

/* Offsets in the host-call page. */
#define HC_NR          0x00   /* system call number (rax) */
#define HC_ARG0        0x08   /* rdi, rsi, rdx, r10, r8, r9 follow at 8-byte steps */
#define HC_RIP         0x38   /* rcx at entry: where the program resumes */
#define HC_RFLAGS      0x40   /* r11 at entry */
#define HC_RET         0x48   /* result, written by the host */
#define HC_USER_RSP    0x50   /* the program's rsp, saved while the ring-3 return uses the scratch stack */
#define HC_SCRATCH_TOP 0x100  /* top of a tiny stack inside the page, for popfq on the ring-3 return path */
