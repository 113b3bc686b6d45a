/* Kernel entry: multiboot1 and multiboot2 headers, the 32-bit start, early paging, the switch to long
 * mode and the jump into the higher half, where kmain (Swift) runs.
 *
 * Early page tables:
 *   PML4[0]   -> the kernel image at its physical address, needed only until the jump to the high half
 *   PML4[255] -> the first 4 GiB at 0x00007f8000000000, the window the Swift heap hands out (Swift keeps
 *                tags in bits 60..63 of object pointers, so objects cannot live at upper-half addresses)
 *   PML4[256] -> the first 4 GiB at the direct-map base 0xffff800000000000 (the same PDPT as PML4[255];
 *                Memory/DirectMap.swift adds the RAM above 4 GiB to it once the PMM is up)
 *   PML4[510] -> an empty PDPT for the kernel stacks of threads (Memory/KernelStacks.swift fills it)
 *   PML4[511] -> PDPT[510] -> the kernel image at KERNEL_VMA (0xffffffff80000000) + its physical address
 *
 * W^X: the direct map and the heap window are 2 MiB pages, writable and no-execute. The image is mapped
 * with 4 KiB pages (boot_pt_image, the first 8 MiB of physical memory) with the rights of each part: text
 * read-only and executable, rodata read-only and no-execute, data and bss writable and no-execute. The
 * page below each stack of the image (the boot stack, the three IST stacks) is left unmapped, so an
 * overflow faults instead of overwriting what lies below. CR0.WP makes read-only pages bind ring 0 too.
 * The direct map, heap window and image pages are global: they stay in the TLB across CR3 loads (PCID
 * or not; Memory/TLB.swift).
 */

/* Call frame information goes to .debug_frame (the linker scripts discard .eh_frame); the entry points
 * below mark themselves as the outermost frame (rip undefined) so debuggers stop unwinding there. */
    .cfi_sections .debug_frame
#define KERNEL_VMA 0xffffffff80000000
#define PHYS(x) ((x) - KERNEL_VMA)
/* One IST stack: a guard page, then 16 KiB (Arch/Descriptors.swift: istGuardSize, istStackSize). */
#define IST_STRIDE (4096 + 16384)

/* Clears the 4 KiB PTE of the image page at `symbol` (32-bit code, before paging). */
.macro UNMAP_GUARD symbol
    mov $PHYS(\symbol), %ebx
    shr $12, %ebx
    movl $0, PHYS(boot_pt_image)(, %ebx, 8)
    movl $0, PHYS(boot_pt_image) + 4(, %ebx, 8)
.endm

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

    /* Fill four page directories (4 GiB of 2 MiB pages, writable, no-execute): entry i maps i * 2 MiB. */
    mov $PHYS(boot_pd), %ebx
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x183, %eax                     /* present, writable, 2 MiB page, global */
    mov %eax, (%ebx, %ecx, 8)
    mov %ecx, %eax
    shr $11, %eax                       /* high dword: bits 32.. of i * 2 MiB */
    or $0x80000000, %eax                /* NX */
    mov %eax, 4(%ebx, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    /* PDPT for the heap window and the direct map: four entries, one per page directory. */
    mov $PHYS(boot_pdpt_low), %ebx
    mov $PHYS(boot_pd) + 3, %eax
    mov %eax, 0(%ebx)
    add $4096, %eax
    mov %eax, 8(%ebx)
    add $4096, %eax
    mov %eax, 16(%ebx)
    add $4096, %eax
    mov %eax, 24(%ebx)

    /* The image, page by page (W^X): the PTE of physical address p is boot_pt_image[p >> 12]. */
    mov $PHYS(__kernel_start), %ecx
5:  mov %ecx, %eax
    xor %edx, %edx
    or $0x101, %eax                     /* text: present, read-only, executable, global */
    cmp $PHYS(__text_end), %ecx
    jb 6f
    mov $0x80000000, %edx               /* rodata: NX */
    cmp $PHYS(__rodata_end), %ecx
    jb 6f
    or $0x2, %eax                       /* data, bss: writable, NX */
6:  mov %ecx, %ebx
    shr $12, %ebx
    mov %eax, PHYS(boot_pt_image)(, %ebx, 8)
    mov %edx, PHYS(boot_pt_image) + 4(, %ebx, 8)
    add $4096, %ecx
    cmp $PHYS(__kernel_end), %ecx
    jb 5b
    /* Guard pages: unmapped. */
    UNMAP_GUARD boot_stack_guard
    UNMAP_GUARD ist_stacks
    UNMAP_GUARD ist_stacks + IST_STRIDE
    UNMAP_GUARD ist_stacks + 2 * IST_STRIDE

    /* The image's page directory: one entry per page table. Its 1 GiB maps virtual offset = physical
     * address, so it serves both the identity map (PML4[0]) and the high half (PDPT[510]). */
    mov $PHYS(boot_pd_image), %ebx
    movl $PHYS(boot_pt_image) + 3, 0(%ebx)
    movl $PHYS(boot_pt_image) + 4096 + 3, 8(%ebx)
    movl $PHYS(boot_pt_image) + 2 * 4096 + 3, 16(%ebx)
    movl $PHYS(boot_pt_image) + 3 * 4096 + 3, 24(%ebx)
    movl $PHYS(boot_pd_image) + 3, PHYS(boot_pdpt_ident)
    movl $PHYS(boot_pd_image) + 3, PHYS(boot_pdpt_high) + 510 * 8

    mov $PHYS(boot_pml4), %ebx
    movl $PHYS(boot_pdpt_ident) + 3, 0(%ebx)
    movl $PHYS(boot_pdpt_low) + 3, 255 * 8(%ebx)
    movl $PHYS(boot_pdpt_low) + 3, 256 * 8(%ebx)
    movl $PHYS(boot_pdpt_stacks) + 3, 510 * 8(%ebx)
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
    /* The accessed bits are preset: the GDT is read-only (rodata), and the CPU would write them. */
    .quad 0x00af9b000000ffff            /* 0x08: 64-bit code */
    .quad 0x00cf93000000ffff            /* 0x10: data */
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
boot_pdpt_ident: .skip 4096
boot_pd_image:  .skip 4096
boot_pt_image:  .skip 4096 * 4
    .globl boot_pdpt_stacks
boot_pdpt_stacks: .skip 4096
    .globl boot_stack_guard, boot_stack_bottom, boot_stack_top
boot_stack_guard:
    .skip 4096                          /* unmapped: an overflow of the boot stack faults here */
boot_stack_bottom:
    .skip 65536
boot_stack_top:

/* Storage for the descriptor tables and the separate stacks of the double fault, NMI and machine check
 * handlers (interrupt stack table entries 1, 2 and 3), filled in by Arch/Descriptors.swift. Each IST
 * stack has an unmapped guard page below it (IST_STRIDE). */
    .globl gdt_storage, tss_storage, idt_storage, ist_stacks
    .balign 4096
idt_storage:    .skip 4096
gdt_storage:    .skip 128
/* The TSS (104 bytes), then the I/O permission bitmap (8 KiB) and its terminating byte: 8297 bytes. */
tss_storage:    .skip 8320
    .balign 4096
ist_stacks:     .skip IST_STRIDE * 3
/* Per-CPU data of the boot CPU (GS base in kernel mode; 20 words: Arch/CPULocal.swift PerCPU) and the syscall tracker
 * (ABI TrackerLayout: 64 per-CPU tables of 149 words), whose symbol osh reads from guest memory. */
    .globl percpu_storage, syscall_tracker
    .balign 64
percpu_storage: .skip 160
    .balign 64
syscall_tracker: .skip 8 * 149 * 64
/* The kernel lock's word (Arch/KernelLock.swift) and the TLB shootdown request (Memory/Shootdown.swift:
 * root, first page, page count, kind), each on its own cache line. */
    .globl kernel_lock_word, shootdown_request
    .balign 64
kernel_lock_word: .skip 64
shootdown_request: .skip 64
    .globl heap_bootstrap_pool
    .balign 4096
heap_bootstrap_pool: .skip 1 << 20
