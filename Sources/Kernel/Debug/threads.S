/* The thread registry that debuggers read (osh attach's `osh-threads`): 256 entries of eight words
 * each, written only by Sources/Kernel/Debug/ThreadRegistry.swift:
 *   word 0  thread id + 1 (0: a free slot)
 *   word 1  the id of the thread's process
 *   word 2  the state (ThreadState's raw value: 0 created, 1 ready, 2 running, 3 blocked, 4 dead)
 *   word 3  the priority
 *   word 4  the top of its kernel stack (percpu_storage word 0 holds the running thread's)
 *   words 5-7 reserved (0)
 * debug_threads_dropped counts threads that found no free slot (they are not listed). */
    .section .bss
    .balign 64
    .globl debug_threads
debug_threads:
    .space 256 * 8 * 8
    .size debug_threads, . - debug_threads
    .globl debug_threads_dropped
debug_threads_dropped:
    .space 8
    .size debug_threads_dropped, . - debug_threads_dropped
