/* Interrupt and exception entry stubs. Each vector's stub pushes an error code (the CPU's, or 0) and the
 * vector number, then the common path saves the general registers into a struct trap_frame (shim.h) and
 * calls kernel_trap(frame) in Swift. */

#include "frame.inc"

/* Call frame information goes to .debug_frame (the linker scripts discard .eh_frame); the entry points
 * below mark themselves as the outermost frame (rip undefined) so debuggers stop unwinding there. */
    .cfi_sections .debug_frame

    .section .text
    .altmacro

.macro trap_stub vector
    .balign 16
trap_stub_\vector:
    .if (\vector == 8) || (\vector >= 10 && \vector <= 14) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushq $0
    .endif
    pushq $\vector
    jmp trap_common
.endm

trap_common:
    .cfi_startproc
    .cfi_undefined rip                  /* the interrupted code may be another address space */
    /* Known flags for kernel code: an interrupt gate clears IF, TF and NT but keeps the interrupted
     * code's AC and DF (and a trap from the kernel its NT too, were it ever set); 0x2 is only the
     * always-one bit. Clearing AC here also keeps SMAP in force for user code that set it with popf
     * (`syscall` clears it through IA32_FMASK). The interrupted flags are in the frame and come back
     * with iretq. */
    pushq $0x2
    popfq
    /* From user mode (CS.RPL = 3): switch to the kernel's GS base (per-CPU data). */
    testb $3, 24(%rsp)
    jz 1f
    swapgs
1:
    SAVE_GENERAL_REGISTERS
    CALL_WITH_FRAME kernel_trap
    jmp trap_return
    .cfi_endproc

/* Restores a struct trap_frame at %rsp and returns to it with iretq (swapgs first when it is user
 * mode). Shared by interrupts, exceptions, syscalls and the first entry of new user threads. */
    .globl trap_return
trap_return:
    RESTORE_GENERAL_REGISTERS
    add $16, %rsp                       /* vector and error code */
    testb $3, 8(%rsp)
    jz 2f
    swapgs
2:  iretq

.set vector, 0
.rept 256
    trap_stub %vector
    .set vector, vector + 1
.endr

    .section .data
    .globl cpu_smap_enabled
cpu_smap_enabled: .byte 0

/* Table of the 256 stub addresses, for building the IDT. */
    .section .rodata
    .balign 8
    .globl trap_stubs
trap_stubs:
.macro stub_address vector
    .quad trap_stub_\vector
.endm
.set vector, 0
.rept 256
    stub_address %vector
    .set vector, vector + 1
.endr
