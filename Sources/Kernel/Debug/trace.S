/* The syscall trace buffer and the process table that debuggers read (osh syscalls --trace, osh
 * profile); layouts in Sources/ABI/SyscallTraceLayout.swift, written only by Debug/SyscallTrace.swift.
 *   syscall_trace      16 header words, then 4096 records of 16 words (512 KiB)
 *   debug_processes    256 entries of 16 words; debug_processes_dropped counts processes left out */
    .section .bss
    .balign 64
    .globl syscall_trace
syscall_trace:
    .space (16 + 4096 * 16) * 8
    .size syscall_trace, . - syscall_trace
    .balign 64
    .globl debug_processes
debug_processes:
    .space 256 * 16 * 8
    .size debug_processes, . - debug_processes
    .globl debug_processes_dropped
debug_processes_dropped:
    .space 8
    .size debug_processes_dropped, . - debug_processes_dropped

/* The kernel log ring (Debug/KernelLog.swift; KernelLog.ringSize in Sources/ABI/Syscalls.swift). */
    .section .bss
    .balign 64
    .globl kernel_log_ring
kernel_log_ring:
    .space 65536
    .size kernel_log_ring, . - kernel_log_ring
