/* The `syscall` entry (IA32_LSTAR) and thread context switches.
 *
 * Per-CPU data (GS base in kernel mode; swapped in by swapgs):
 *   gs:0  kernel stack top of the current thread (also in TSS.rsp0)
 *   gs:8  scratch: the user stack pointer at syscall entry
 */
#include "frame.inc"

/* Call frame information goes to .debug_frame (the linker scripts discard .eh_frame); the entry points
 * below mark themselves as the outermost frame (rip undefined) so debuggers stop unwinding there. */
    .cfi_sections .debug_frame

#define USER_CS (0x20 | 3)
#define USER_DS (0x18 | 3)
#define SYSCALL_VECTOR 0x100

    .section .text
    .globl syscall_entry
syscall_entry:
    .cfi_startproc
    .cfi_undefined rip                  /* below is user mode */
    swapgs
    mov %rsp, %gs:8
    mov %gs:0, %rsp
    /* Build a struct trap_frame as an interrupt from user mode would. */
    pushq $USER_DS
    pushq %gs:8
    pushq %r11                          /* rflags */
    pushq $USER_CS
    pushq %rcx                          /* rip */
    pushq $0                            /* error */
    pushq $SYSCALL_VECTOR
    SAVE_GENERAL_REGISTERS
    CALL_WITH_FRAME kernel_syscall
    /* Back with sysret when the frame still looks like a syscall's: user CS/SS and a canonical user rip
     * (sysret with a non-canonical rip would fault in ring 0). Anything else goes through iretq. */
    cmpq $USER_CS, 18 * 8(%rsp)
    jne trap_return
    cmpq $USER_DS, 21 * 8(%rsp)
    jne trap_return
    movabs $0x00007fffffffffff, %rax
    cmpq %rax, 17 * 8(%rsp)
    ja trap_return
    RESTORE_GENERAL_REGISTERS                /* rcx and r11 are overwritten below */
    add $16, %rsp                       /* vector, error */
    popq %rcx                           /* rip */
    add $8, %rsp                        /* cs */
    popq %r11                           /* rflags */
    popq %rsp                           /* user rsp (ss is implied by sysret) */
    swapgs
    sysretq
    .cfi_endproc

/* switch_context(save: *u64 (where to keep this thread's rsp), next: u64 (the next thread's rsp))
 * Saves the callee-saved registers on this stack, switches stacks, sets known flags (IF, NT, AC, DF,
 * TF clear) and restores the next thread's registers. */
    .globl switch_context
switch_context:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    /* The kernel runs with interrupts off; whatever flags the previous thread entered with (a user's
     * NT would make this thread's `iretq` fault), this one continues with known ones. */
    pushq $0x2
    popfq
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

/* First run of a user thread: its kernel stack holds a trap_frame for user mode right above. */
    .globl user_thread_start
user_thread_start:
    .cfi_startproc
    .cfi_undefined rip
    call thread_first_run
    jmp trap_return
    .cfi_endproc

