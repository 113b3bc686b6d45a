// The C side of the userspace runtime: the assembly stubs (start.S) and the linker script's symbols,
// imported into every user program with -import-objc-header.
#pragma once
#include <stdint.h>
#include <stddef.h>

// raw_syscall's result: rax (0 or a SysError raw value) and rdx (the value), as SysV returns a
// two-word struct.
struct syscall_result {
    uint64_t error;
    uint64_t value;
};

// Issues `syscall` with rax = number and the arguments in rdi, rsi, rdx, r10, r8, r9 (start.S).
// ipc_syscall's registers: in before the syscall, out after (the message and badge of the answer).
struct ipc_registers {
    uint64_t rdi, rsi, rdx, r10, r8, r9;
};
uint64_t ipc_syscall(uint64_t number, struct ipc_registers *regs);

struct syscall_result raw_syscall(uint64_t number, uint64_t a0, uint64_t a1, uint64_t a2,
                                  uint64_t a3, uint64_t a4, uint64_t a5);

// Where threads created by the runtime begin (start.S): rdi = the argument given to thread_create.
void runtime_thread_trampoline(void);

// Fills xmm0..xmm15 with `value` and yields `rounds` times, checking after each yield that all sixteen
// registers still hold it. Returns 0, or the 1-based round in which a register changed (start.S).
uint64_t sse_fill_and_yield(uint64_t value, uint64_t rounds);

// Stores value at address with RFLAGS.AC set; returns RFLAGS right after the store (flags.S).
uint64_t store_with_ac_flag(uint64_t address, uint64_t value);

// Symbols of user.ld.
extern uint8_t __image_start[], __image_end[], __build_id_note[], __build_id_note_end[];
extern uint8_t __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[];

static inline uint64_t runtime_thread_trampoline_address(void) { return (uint64_t)(uintptr_t)&runtime_thread_trampoline; }
static inline uint64_t symbol_image_start(void) { return (uint64_t)(uintptr_t)__image_start; }
static inline uint64_t symbol_image_end(void) { return (uint64_t)(uintptr_t)__image_end; }
static inline uint64_t symbol_text_start(void) { return (uint64_t)(uintptr_t)__text_start; }
static inline uint64_t symbol_text_end(void) { return (uint64_t)(uintptr_t)__text_end; }
static inline uint64_t symbol_rodata_start(void) { return (uint64_t)(uintptr_t)__rodata_start; }
static inline uint64_t symbol_rodata_end(void) { return (uint64_t)(uintptr_t)__rodata_end; }
static inline uint64_t symbol_data_start(void) { return (uint64_t)(uintptr_t)__data_start; }
static inline const uint8_t *symbol_build_id_note(void) { return __build_id_note; }
static inline const uint8_t *symbol_build_id_note_end(void) { return __build_id_note_end; }

static inline uint64_t read_tsc(void) { uint32_t lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((uint64_t)hi << 32) | lo; }
/* Reads and writes back one byte through a volatile pointer: makes the kernel fill a lazy page now. */
static inline void touch_byte(uint8_t *p) { volatile uint8_t *v = p; *v = *v; }
static inline uint64_t read_rbp(void) { uint64_t v; __asm__ volatile("mov %%rbp, %0" : "=r"(v)); return v; }
static inline void cpu_pause(void) { __asm__ volatile("pause"); }
static inline void cpu_trap(void) { __asm__ volatile("ud2"); }

// Test-and-set lock words (start.S .bss; index 0 the heap, 1 the output buffer): the holder may be
// preempted, so waiters yield rather than spin.
extern uint32_t runtime_locks[];
static inline int runtime_lock_try(int index) { return __atomic_exchange_n(&runtime_locks[index], 1, __ATOMIC_ACQUIRE) == 0; }
static inline void runtime_lock_release(int index) { __atomic_store_n(&runtime_locks[index], 0, __ATOMIC_RELEASE); }

// The line buffer behind putchar (start.S .bss), RUNTIME_OUTPUT_SIZE bytes.
#define RUNTIME_OUTPUT_SIZE 512
extern uint8_t runtime_output_buffer[];
static inline uint8_t *runtime_output(void) { return runtime_output_buffer; }

// Atomic 32-bit words in memory that may be shared with other threads or processes (the SPSC ring,
// Ring.swift): C11 orderings through the compiler builtins, which also act as compiler barriers. On
// x86_64 (TSO) acquire loads and release stores are plain moves; the seq_cst fence is an mfence.
static inline uint32_t atomic_load_acquire_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline uint32_t atomic_load_relaxed_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline uint64_t atomic_load_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void atomic_store_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t atomic_add_u64(uint64_t *p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline int atomic_cas_u32(uint32_t *p, uint32_t expected, uint32_t desired) { return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); }
static inline uint64_t atomic_load_acquire_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void atomic_store_release_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void atomic_store_seq_cst_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t atomic_load_seq_cst_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline uint32_t atomic_exchange_u32(uint32_t *p, uint32_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
static inline void atomic_fence_seq_cst(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// A breakpoint trap from user mode (the accelerator check: resumed by the kernel under `accelcheck`,
// fatal otherwise) and the time-stamp counter.
static inline void user_breakpoint(void) { __asm__ volatile("int3"); }
static inline uint64_t user_read_tsc(void) { uint32_t lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((uint64_t)hi << 32) | lo; }

// Port I/O from user mode: works on the ports of the IOPort handles this process holds (ioport_create);
// any other port is a #GP that ends the process.
static inline void port_out8(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %1" :: "a"(value), "Nd"(port)); }
static inline uint8_t port_in8(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void port_out16(uint16_t port, uint16_t value) { __asm__ volatile("outw %0, %1" :: "a"(value), "Nd"(port)); }
static inline uint16_t port_in16(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void port_out32(uint16_t port, uint32_t value) { __asm__ volatile("outl %0, %1" :: "a"(value), "Nd"(port)); }
static inline uint32_t port_in32(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

// Device registers through an uncached mapping (drivers): one access of exactly that width each.
static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)(uintptr_t)a; }
static inline uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)(uintptr_t)a; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)(uintptr_t)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)(uintptr_t)a = v; }
static inline void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)(uintptr_t)a = v; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)(uintptr_t)a = v; }
static inline void mmio_write64(uint64_t a, uint64_t v) { *(volatile uint64_t *)(uintptr_t)a = v; }

// CPUID leaf/subleaf → eax, ebx, ecx, edx (rngd's check for RDRAND and RDSEED).
struct cpuid_result { uint32_t eax, ebx, ecx, edx; };
static inline struct cpuid_result cpu_id(uint32_t leaf, uint32_t subleaf) {
    struct cpuid_result r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}
// RDRAND / RDSEED (unprivileged): 1 and the value in *out when the CPU gave one (CF set), else 0. Only
// after CPUID said the instruction exists (it is #UD otherwise).
static inline int cpu_rdrand64(uint64_t *out) { unsigned char ok; __asm__ volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok) :: "cc"); return ok; }
static inline int cpu_rdseed64(uint64_t *out) { unsigned char ok; __asm__ volatile("rdseed %0; setc %1" : "=r"(*out), "=qm"(ok) :: "cc"); return ok; }
