/*
 * The in-guest half of the micro guest's kernel. It is almost nothing on purpose: under a software KVM
 * (PVM) every ring-0 instruction is emulated, so the guest passes system calls to the host with one store.
 *
 * syscall_entry: SYSCALL lands here (LSTAR). On VMX/SVM this runs in ring 0; under PVM SYSCALL stays in
 * ring 3. Either way: copy the call to the host-call page, ring the doorbell (an MMIO exit), load the result
 * and return to the program with its flags. The program's stack is never touched (its red zone is live).
 *
 * exception_vectors: 32 ring-0 entry points; each reports its vector with one "out" and stops. The host
 * reads the exception frame and ends the program with the matching signal.
 *
 * pvh_entry: the 32-bit entry named by the PVH note, for a standard VMM (QEMU -M microvm -kernel);
 * it exits through isa-debug-exit at once. Flicker itself never runs it.
 */
#include "hostcall.h"

	.section .note.Xen, "a"
	.p2align 2
	.long 4                 /* namesz */
	.long 4                 /* descsz */
	.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_entry

	.section .boot32, "ax"
	.code32
	.globl pvh_entry
pvh_entry:
	xor %eax, %eax
	outb %al, $ISA_DEBUG_EXIT_PORT
1:	hlt
	jmp 1b

	.section .text, "ax"
	.code64
	.globl header
header:                           /* read by dev.flicker.guest.GuestImage */
	.quad GUEST_IMAGE_MAGIC
	.long HOSTCALL_ABI_VERSION
	.long header_end - header
	.quad syscall_entry
	.quad exception_vectors
	.quad HOSTCALL_PAGE_VA
	.quad DOORBELL_VA
	.quad DOORBELL_GPA
	.long EXCEPTION_PORT_BASE
	.long HC_NR, HC_ARG0, HC_RIP, HC_RFLAGS, HC_RET, HC_USER_RSP, HC_SCRATCH_TOP
header_end:

#define HC(off) (HOSTCALL_PAGE_VA + (off))

	.p2align 4
	.globl syscall_entry
syscall_entry:
	movq %rax, HC(HC_NR)
	movq %rdi, HC(HC_ARG0)
	movq %rsi, HC(HC_ARG0 + 8)
	movq %rdx, HC(HC_ARG0 + 16)
	movq %r10, HC(HC_ARG0 + 24)
	movq %r8,  HC(HC_ARG0 + 32)
	movq %r9,  HC(HC_ARG0 + 40)
	movq %rcx, HC(HC_RIP)
	movq %r11, HC(HC_RFLAGS)
	movq %rax, DOORBELL_VA          /* exit to the host; it has written HC_RET when we resume */
	movq HC(HC_RET), %rax
	movq HC(HC_RIP), %rcx
	movl %cs, %r11d
	testb $3, %r11b
	jz 1f
	/* ring 3 (PVM): SYSRET is privileged; restore flags on the scratch stack and jump back. */
	movq HC(HC_RFLAGS), %r11
	movq %rsp, HC(HC_USER_RSP)
	movq $HC(HC_SCRATCH_TOP), %rsp
	pushq %r11
	popfq
	movq HC(HC_USER_RSP), %rsp
	jmp *%rcx
1:	/* ring 0 (VMX/SVM) */
	movq HC(HC_RFLAGS), %r11
	sysretq

	.p2align 4
	.globl exception_vectors
exception_vectors:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.p2align 4
	outb %al, $(EXCEPTION_PORT_BASE + \v)
2:	hlt
	jmp 2b
	.endr
