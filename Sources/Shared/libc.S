/* The few C library routines the Embedded Swift runtime and the compiler expect, without SSE: linked
 * into the kernel and into every user program. Each program provides heap_free (free's body) in Swift. */
    .section .text

/* Copies and fills move 8 bytes per step (rep movsq / rep stosq) and the last n % 8 bytes one by one:
 * under QEMU's TCG every iteration of a rep instruction costs about as much as a short loop's turn, so
 * a byte-wise rep over a page or an initfs image was a measurable share of the boot. */
    .globl memcpy
memcpy:
    mov %rdi, %rax
    mov %rdx, %rcx
    shr $3, %rcx
    rep movsq
    mov %edx, %ecx
    and $7, %ecx
    rep movsb
    ret

/* Forwards unless the destination starts inside the source (dst > src and dst < src + n): then
 * backwards, the n % 8 top bytes first, then the 8-byte words from the top down. */
    .globl memmove
memmove:
    mov %rdi, %rax
    mov %rdi, %rcx
    sub %rsi, %rcx
    cmp %rdx, %rcx
    jb 1f
    mov %rdx, %rcx
    shr $3, %rcx
    rep movsq
    mov %edx, %ecx
    and $7, %ecx
    rep movsb
    ret
1:  lea -1(%rsi, %rdx), %rsi
    lea -1(%rdi, %rdx), %rdi
    std
    mov %edx, %ecx
    and $7, %ecx
    rep movsb
    sub $7, %rsi
    sub $7, %rdi
    mov %rdx, %rcx
    shr $3, %rcx
    rep movsq
    cld
    ret

    .globl memset
memset:
    mov %rdi, %r9
    movzbl %sil, %eax
    movabs $0x0101010101010101, %r8
    imul %r8, %rax
    mov %rdx, %rcx
    shr $3, %rcx
    rep stosq
    mov %edx, %ecx
    and $7, %ecx
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
    xor %eax, %eax
    mov %rsi, %rcx
    shr $3, %rcx
    rep stosq
    mov %esi, %ecx
    and $7, %ecx
    rep stosb
    ret

/* free is implemented in Swift under another name (the name itself is reserved for the Swift runtime's
 * own declaration): the kernel's Memory/Heap.swift and the runtime's Heap.swift export heap_free. */
    .globl free
free:
    jmp heap_free

    .section .note.GNU-stack, "", @progbits
