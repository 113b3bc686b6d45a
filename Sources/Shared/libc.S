/* The few C library routines the Embedded Swift runtime and the compiler expect, without SSE: linked
 * into the kernel and into every user program. Each program provides heap_free (free's body) in Swift. */
    .section .text

    .globl memcpy
memcpy:
    mov %rdi, %rax
    mov %rdx, %rcx
    rep movsb
    ret

    .globl memmove
memmove:
    mov %rdi, %rax
    mov %rdx, %rcx
    cmp %rsi, %rdi
    jbe 1f
    lea -1(%rsi, %rdx), %rsi
    lea -1(%rdi, %rdx), %rdi
    std
    rep movsb
    cld
    ret
1:  rep movsb
    ret

    .globl memset
memset:
    mov %rdi, %r9
    mov %esi, %eax
    mov %rdx, %rcx
    rep stosb
    mov %r9, %rax
    ret

    .globl memcmp
memcmp:
    xor %eax, %eax
    test %rdx, %rdx
    jz 2f
1:  movzbl (%rdi), %eax
    movzbl (%rsi), %ecx
    sub %ecx, %eax
    jnz 2f
    inc %rdi
    inc %rsi
    dec %rdx
    jnz 1b
2:  ret

    .globl bzero
bzero:
    mov %rsi, %rcx
    xor %eax, %eax
    rep stosb
    ret

/* free is implemented in Swift under another name (the name itself is reserved for the Swift runtime's
 * own declaration): the kernel's Memory/Heap.swift and the runtime's Heap.swift export heap_free. */
    .globl free
free:
    jmp heap_free

    .section .note.GNU-stack, "", @progbits
