/* Probes for the hardening tests (Debug/HardeningTests.swift): single memory accesses and a call that
 * are expected to fault (SMAP, SMEP, write protection), and a call on another stack (the stack guard
 * test). While Traps.probe is armed, kernel_trap turns a #PF or #GP taken inside a probe into a return
 * from it: it pops the return address at the top of the stack into rip and puts PROBE_FAULTED (shim.h)
 * in rax. So each probe faults, if at all, only where its stack top is a return address. */

    .section .text
/* uint64_t probe_read64(uint64_t address): the word at address. */
    .globl probe_read64
probe_read64:
    mov (%rdi), %rax
    ret

/* uint64_t probe_read64_user_allowed(uint64_t address): the same read with RFLAGS.AC set, as a copy
 * helper would read user memory under SMAP (stac ... clac; only on a CPU with SMAP). */
    .globl probe_read64_user_allowed
probe_read64_user_allowed:
    stac
    mov (%rdi), %rax
    clac
    ret

/* uint64_t probe_write64(uint64_t address, uint64_t value): stores value, returns 0. */
    .globl probe_write64
probe_write64:
    mov %rsi, (%rdi)
    xor %eax, %eax
    ret

/* uint64_t probe_call(uint64_t address): calls code at address, returns its rax. A fault on the
 * fetch of the first instruction returns here, then to the caller. */
    .globl probe_call
probe_call:
    call *%rdi
    ret

/* void run_on_stack(uint64_t top, void (*function)(void)): calls function with rsp = top, then comes
 * back to this stack. The frame record chain goes on into the caller's stack (stack traces). */
    .globl run_on_stack
run_on_stack:
    pushq %rbp
    mov %rsp, %rbp
    mov %rdi, %rsp
    call *%rsi
    mov %rbp, %rsp
    popq %rbp
    ret
