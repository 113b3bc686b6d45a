/* Userspace entry points, syscall stubs and thread trampolines.
 * Syscall convention (Sources/ABI/Syscalls.swift): rax = number, arguments in rdi, rsi, rdx, r10, r8, r9;
 * on return rax = error (0 = success), rdx = value; rcx and r11 are clobbered. */
    .cfi_sections .debug_frame           /* user.ld keeps .debug_frame; debuggers read it */
    .section .text

/* The kernel enters here with rdi = address of the StartupBlock and rsp = the top of a user stack. */
    .globl _start
    .type _start, @function
_start:
    .cfi_startproc
    .cfi_undefined rip          /* the outermost frame for debuggers */
    xor %ebp, %ebp              /* the end of every stack trace */
    and $-16, %rsp
    call runtime_start          /* rdi passes through; never returns */
    ud2
    .cfi_endproc
    .size _start, . - _start

/* struct syscall_result raw_syscall(number, a0, a1, a2, a3, a4, a5):
 * C passes rdi, rsi, rdx, rcx, r8, r9, then a5 on the stack. */
    .globl raw_syscall
    .type raw_syscall, @function
raw_syscall:
    mov %rdi, %rax
    mov %rsi, %rdi
    mov %rdx, %rsi
    mov %rcx, %rdx
    mov %r8, %r10
    mov %r9, %r8
    mov 8(%rsp), %r9
    syscall
    ret                         /* rax = error, rdx = value: the struct's two words */
    .size raw_syscall, . - raw_syscall

/* uint64_t ipc_syscall(number, struct ipc_registers *regs): IPC calls pass and return message registers
 * rdi, rsi, rdx, r10, r8, r9 (regs, in that order, read before and written after); returns rax. */
    .globl ipc_syscall
    .type ipc_syscall, @function
ipc_syscall:
    push %rbx
    mov %rsi, %rbx
    mov %rdi, %rax
    mov 0(%rbx), %rdi
    mov 8(%rbx), %rsi
    mov 16(%rbx), %rdx
    mov 24(%rbx), %r10
    mov 32(%rbx), %r8
    mov 40(%rbx), %r9
    syscall
    mov %rdi, 0(%rbx)
    mov %rsi, 8(%rbx)
    mov %rdx, 16(%rbx)
    mov %r10, 24(%rbx)
    mov %r8, 32(%rbx)
    mov %r9, 40(%rbx)
    pop %rbx
    ret
    .size ipc_syscall, . - ipc_syscall

/* Threads made by Runtime.spawnThread start here: rdi = the argument, rsp = the top of their stack. */
    .globl runtime_thread_trampoline
    .type runtime_thread_trampoline, @function
runtime_thread_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    xor %ebp, %ebp
    and $-16, %rsp
    call runtime_thread_main    /* returns the exit code */
    mov %rax, %rdi
    mov $17, %eax               /* thread_exit */
    syscall
    ud2
    .cfi_endproc
    .size runtime_thread_trampoline, . - runtime_thread_trampoline

/* uint64_t sse_fill_and_yield(uint64_t value, uint64_t rounds) */
    .globl sse_fill_and_yield
    .type sse_fill_and_yield, @function
sse_fill_and_yield:
    push %rbx
    push %r12
    push %r13
    mov %rdi, %rbx
    mov %rsi, %r12
    xor %r13d, %r13d
    movq %rbx, %xmm0
    punpcklqdq %xmm0, %xmm0     /* both halves = value */
    .irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    movdqa %xmm0, %xmm\n
    .endr
1:  cmp %r12, %r13
    jae 3f
    inc %r13
    mov $18, %eax               /* thread_yield */
    syscall
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    movq %xmm\n, %rax
    cmp %rbx, %rax
    jne 2f
    pshufd $0x4e, %xmm\n, %xmm\n  /* swap the halves, check the upper one, swap back */
    movq %xmm\n, %rax
    pshufd $0x4e, %xmm\n, %xmm\n
    cmp %rbx, %rax
    jne 2f
    .endr
    jmp 1b
2:  mov %r13, %rax
    jmp 4f
3:  xor %eax, %eax
4:  pop %r13
    pop %r12
    pop %rbx
    ret
    .size sse_fill_and_yield, . - sse_fill_and_yield

/* memcpy, memmove, memset, bzero, memcmp and free come from Sources/Shared/libc.S. */

    .section .bss
    .balign 64
    .globl runtime_locks
runtime_locks:
    .zero 16
    .globl runtime_output_buffer
runtime_output_buffer:
    .zero 512

    .section .note.GNU-stack, "", @progbits
