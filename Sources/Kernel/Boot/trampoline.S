/* The application processors' way from real mode into the kernel (Arch/SMP.swift starts them).
 *
 * ap_trampoline_start..ap_trampoline_end is copied to a page below 1 MiB (Core/APStartup.swift picks it),
 * whose number a STARTUP IPI names: the AP starts there in real mode with CS = page >> 4, IP = 0. The code
 * knows nothing of where it sits except through CS: it computes its linear base (CS << 4) into ebx, fills
 * in the linear addresses its GDT pointer and far jumps need, then goes through protected mode into long
 * mode on the page tables ap_boot_pml4 (the kernel's upper half plus an identity map of the first 2 MiB,
 * filled by SMP.swift), and jumps to ap_entry64 in the kernel image with the stack and CPU index the
 * boot CPU left in the parameter block (ap_trampoline_params, at a fixed offset from the start).
 *
 * Parameter block (offsets from ap_trampoline_params; SMP.swift writes the last three):
 *   +0  GDT pointer (limit, 32-bit linear base)      +8  far pointer to the 32-bit code (offset, 0x08)
 *   +16 far pointer to the 64-bit code (offset, 0x18) +24 CR3 (below 4 GiB)
 *   +32 stack top (the AP's idle thread stack)        +40 CPU index (rdi of ap_main)
 */
    .cfi_sections .debug_frame

#define OFF(x) ((x) - ap_trampoline_start)

    .section .rodata.ap_trampoline, "a"
    .globl ap_trampoline_start, ap_trampoline_end, ap_trampoline_params
    .balign 16
    .code16
ap_trampoline_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    xor %ebx, %ebx
    mov %ax, %bx
    shl $4, %ebx                        /* ebx = linear base of this page */
    lea OFF(tramp_gdt)(%ebx), %eax
    mov %eax, OFF(ap_trampoline_params) + 2
    lea OFF(tramp_32)(%ebx), %eax
    mov %eax, OFF(ap_trampoline_params) + 8
    lea OFF(tramp_64)(%ebx), %eax
    mov %eax, OFF(ap_trampoline_params) + 16
    lgdtl OFF(ap_trampoline_params)
    mov %cr0, %eax
    or $1, %eax                         /* PE */
    mov %eax, %cr0
    ljmpl *OFF(ap_trampoline_params) + 8

    .code32
tramp_32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    /* PAE and global pages, the page tables, EFER.LME and NXE, then paging with write protection. */
    mov %cr4, %eax
    or $((1 << 5) | (1 << 7)), %eax
    mov %eax, %cr4
    mov OFF(ap_trampoline_params) + 24(%ebx), %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax
    mov %eax, %cr0
    ljmpl *OFF(ap_trampoline_params) + 16(%ebx)

    .code64
tramp_64:
    mov %ebx, %ebx                      /* the upper half of rbx is undefined after the mode switch */
    mov OFF(ap_trampoline_params) + 32(%rbx), %rsp
    mov OFF(ap_trampoline_params) + 40(%rbx), %rdi
    movabs $ap_entry64, %rax
    jmp *%rax

    .balign 8
tramp_gdt:
    .quad 0
    .quad 0x00cf9b000000ffff            /* 0x08: 32-bit code */
    .quad 0x00cf93000000ffff            /* 0x10: data */
    .quad 0x00af9b000000ffff            /* 0x18: 64-bit code */
tramp_gdt_end:

    .balign 8
ap_trampoline_params:
    .short tramp_gdt_end - tramp_gdt - 1
    .long 0                             /* +2: GDT base, filled in by the AP */
    .short 0
    .long 0                             /* +8: tramp_32, filled in by the AP */
    .short 0x08
    .short 0
    .long 0                             /* +16: tramp_64, filled in by the AP */
    .short 0x18
    .short 0
    .quad 0                             /* +24: CR3 */
    .quad 0                             /* +32: stack top */
    .quad 0                             /* +40: CPU index */
ap_trampoline_end:

/* ap_entry64: in the kernel image, on the AP's idle stack, still on ap_boot_pml4. Loads the boot GDT
 * (the trampoline's lies in low memory), reloads the segments and calls ap_main(index), which never
 * returns. */
    .section .text
    .globl ap_entry64
ap_entry64:
    .cfi_startproc
    .cfi_undefined rip                  /* the outermost frame for debuggers */
    movabs $ap_gdt_pointer, %rax
    lgdt (%rax)
    pushq $0x08
    leaq 1f(%rip), %rax
    pushq %rax
    lretq
1:  mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    xor %ebp, %ebp                      /* the end of every stack trace */
    call ap_main
2:  cli
    hlt
    jmp 2b
    .cfi_endproc

    .section .rodata
    .balign 16
ap_gdt:
    .quad 0
    .quad 0x00af9b000000ffff            /* 0x08: 64-bit code (accessed preset: rodata) */
    .quad 0x00cf93000000ffff            /* 0x10: data */
ap_gdt_end:
    .balign 8
ap_gdt_pointer:
    .short ap_gdt_end - ap_gdt - 1
    .quad ap_gdt

/* The APs' first page tables: the kernel's PML4 entries, plus slot 0 -> ap_boot_pdpt -> ap_boot_pd,
 * whose entry 0 maps the first 2 MiB (the trampoline's page) one to one. */
    .section .bss
    .balign 4096
    .globl ap_boot_pml4, ap_boot_pdpt, ap_boot_pd
ap_boot_pml4: .skip 4096
ap_boot_pdpt: .skip 4096
ap_boot_pd:   .skip 4096
