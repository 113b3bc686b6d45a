/* A test helper for the kernel's hardening (root's ac_flag_across_traps): a store made with RFLAGS.AC
 * set, which user code may do and which, left set in the kernel, would lift SMAP there. */

    .section .text
/* uint64_t store_with_ac_flag(uint64_t address, uint64_t value): stores value at address with AC set
 * and returns RFLAGS as read right after the store (a trap taken by the store returns through the
 * kernel, which must clear AC for itself and give the user's flags back). AC is clear on return. */
    .globl store_with_ac_flag
    .type store_with_ac_flag, @function
store_with_ac_flag:
    pushfq
    orq $0x40000, (%rsp)
    popfq
    mov %rsi, (%rdi)
    pushfq
    popq %rax
    pushfq
    andq $~0x40000, (%rsp)
    popfq
    ret
    .size store_with_ac_flag, . - store_with_ac_flag
