// The host side of the runtime's heap test: raw_syscall emulates vmem_self, frame_create and vmem_map
// (an mmap at the requested address) and thread_yield, enough for Sources/Servers/Runtime/Heap.swift.
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <sys/mman.h>
struct syscall_result { uint64_t error; uint64_t value; };
static inline struct syscall_result raw_syscall(uint64_t n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
    struct syscall_result r = {0, 0};
    switch (n) {
    case 20: r.value = 1; break;                       /* vmem_self */
    case 25: { static uint64_t next_handle = 10; r.value = next_handle++; break; }  /* frame_create */
    case 21: {                                         /* vmem_map */
        void *p = mmap((void *)a2, a4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != (void *)a2) r.error = 9;
        break; }
    case 18: break;
    default: r.error = 12;
    }
    return r;
}
static inline void cpu_trap(void) { __builtin_trap(); }
static inline uint64_t read_tsc(void) { return 12345; }
static inline uint32_t *lock_words(void) { static uint32_t l[4]; return l; }
static inline int runtime_lock_try(int i) { return __atomic_exchange_n(&lock_words()[i], 1, __ATOMIC_ACQUIRE) == 0; }
static inline void runtime_lock_release(int i) { __atomic_store_n(&lock_words()[i], 0, __ATOMIC_RELEASE); }
