/* Kernel entry: multiboot1 and multiboot2 headers, the 32-bit start, early paging, the switch to long
 * mode and the jump into the higher half, where kmain (Swift) runs.
 *
 * Early page tables:
 *   PML4[0]   -> identity map of the first 4 GiB (2 MiB pages), needed only until the jump to the high half
 *   PML4[255] -> the same 4 GiB at 0x00007f8000000000, the window the Swift heap hands out (Swift keeps
 *                tags in bits 60..63 of object pointers, so objects cannot live at upper-half addresses)
 *   PML4[256] -> the same 4 GiB at the direct-map base 0xffff800000000000
 *   PML4[511] -> PDPT[510] -> the first 1 GiB at KERNEL_VMA (0xffffffff80000000)
 */

/* Call frame information goes to .debug_frame (the linker scripts discard .eh_frame); the entry points
 * below mark themselves as the outermost frame (rip undefined) so debuggers stop unwinding there. */
    .cfi_sections .debug_frame
#define KERNEL_VMA 0xffffffff80000000
#define PHYS(x) ((x) - KERNEL_VMA)

#define MB1_MAGIC 0x1BADB002
#define MB1_FLAGS 0x00010003            /* page-align modules, memory info, a.out address fields */
#define MB2_MAGIC 0xE85250D6

    .section .multiboot, "a"
    .balign 8
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)
    .long PHYS(mb1_header)              /* header_addr */
    .long PHYS(__kernel_start)          /* load_addr */
    .long PHYS(__data_end)              /* load_end_addr */
    .long PHYS(__kernel_end)            /* bss_end_addr */
    .long PHYS(_start32)                /* entry_addr */

    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long 0                             /* architecture: i386 protected mode */
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + (mb2_header_end - mb2_header))
    /* entry address tag */
    .balign 8
    .short 3, 0
    .long 12
    .long PHYS(_start32)
    /* framebuffer tag (optional): 1024x768x32 when the loader can */
    .balign 8
    .short 5, 1
    .long 20
    .long 1024, 768, 32
    /* module alignment tag */
    .balign 8
    .short 6, 0
    .long 8
    /* end tag */
    .balign 8
    .short 0, 0
    .long 8
mb2_header_end:

    .section .boot.text, "ax"
    .code32
    .globl _start32
_start32:
    cli
    cld
    mov %eax, %edi                      /* multiboot magic: first argument of kmain */
    mov %ebx, %esi                      /* boot information (physical): second argument */
    mov $PHYS(boot_stack_top), %esp

    /* Long mode available? (CPUID 0x80000001 EDX bit 29). Otherwise say so on COM1 and stop. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz no_long_mode

    /* Fill four page directories (4 GiB of 2 MiB pages): entry i maps i * 2 MiB. */
    mov $PHYS(boot_pd), %ebx
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                      /* present, writable, 2 MiB page */
    mov %eax, (%ebx, %ecx, 8)
    mov %ecx, %eax
    shr $11, %eax                       /* high dword: bits 32.. of i * 2 MiB */
    mov %eax, 4(%ebx, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    /* PDPT for the low and direct maps: four entries, one per page directory. */
    mov $PHYS(boot_pdpt_low), %ebx
    mov $PHYS(boot_pd) + 3, %eax
    mov %eax, 0(%ebx)
    add $4096, %eax
    mov %eax, 8(%ebx)
    add $4096, %eax
    mov %eax, 16(%ebx)
    add $4096, %eax
    mov %eax, 24(%ebx)

    /* PDPT for the kernel image: entry 510 maps the first GiB. */
    mov $PHYS(boot_pdpt_high), %ebx
    movl $PHYS(boot_pd) + 3, 510 * 8(%ebx)

    mov $PHYS(boot_pml4), %ebx
    movl $PHYS(boot_pdpt_low) + 3, 0(%ebx)
    movl $PHYS(boot_pdpt_low) + 3, 255 * 8(%ebx)
    movl $PHYS(boot_pdpt_low) + 3, 256 * 8(%ebx)
    movl $PHYS(boot_pdpt_high) + 3, 511 * 8(%ebx)

    /* PAE and global pages on, then CR3, EFER.LME and EFER.NXE, then paging. */
    mov %cr4, %eax
    or $((1 << 5) | (1 << 7)), %eax
    mov %eax, %cr4
    mov $PHYS(boot_pml4), %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax /* PG, WP, PE */
    mov %eax, %cr0

    lgdt PHYS(boot_gdt_pointer)
    ljmp $0x08, $PHYS(start64_low)

no_long_mode:
    mov $PHYS(no_long_mode_message), %esi
2:  lodsb
    test %al, %al
    jz 3f
    mov $0x3f8, %dx
    out %al, %dx
    jmp 2b
3:  hlt
    jmp 3b

    .code64
start64_low:
    movabs $start64_high, %rax
    jmp *%rax

    .section .text
start64_high:
    .cfi_startproc
    .cfi_undefined rip                  /* the outermost frame for debuggers */
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    movabs $boot_stack_top, %rsp
    xor %ebp, %ebp                      /* the end of every stack trace */
    /* Reload the GDT pointer through its high-half address. */
    movabs $boot_gdt_pointer64, %rax
    lgdt (%rax)
    /* kmain(magic: edi, info: rsi zero-extended) */
    mov %edi, %edi
    mov %esi, %esi
    call kmain
4:  cli
    hlt
    jmp 4b
    .cfi_endproc

    .section .rodata
no_long_mode_message:
    .asciz "kernel: this CPU has no long mode (x86_64); stopping\r\n"

    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff            /* 0x10: data */
boot_gdt_end:
boot_gdt_pointer:
    .short boot_gdt_end - boot_gdt - 1
    .long PHYS(boot_gdt)
    .balign 8
boot_gdt_pointer64:
    .short boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

    .section .bss
    .balign 4096
    .globl boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4
    .globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .skip 65536
boot_stack_top:

/* Storage for the descriptor tables and the separate stacks of the double fault, NMI and machine check
 * handlers (interrupt stack table entries 1, 2 and 3), filled in by Arch/Descriptors.swift. */
    .globl gdt_storage, tss_storage, idt_storage, ist_stacks
    .balign 4096
idt_storage:    .skip 4096
gdt_storage:    .skip 128
tss_storage:    .skip 128
    .balign 4096
ist_stacks:     .skip 16384 * 3
/* Per-CPU data (GS base in kernel mode) and the syscall tracker (ABI TrackerLayout: 85 words), whose
 * symbol osh reads from guest memory. */
    .globl percpu_storage, syscall_tracker
    .balign 64
percpu_storage: .skip 64
    .balign 64
syscall_tracker: .skip 8 * 85
    .globl heap_bootstrap_pool
    .balign 4096
heap_bootstrap_pool: .skip 1 << 20
