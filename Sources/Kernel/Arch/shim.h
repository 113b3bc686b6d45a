// Hardware access for the Swift kernel: inline assembly wrappers and the symbols of the assembly files
// and the linker script. Imported with -import-objc-header.
#pragma once
#include <stdint.h>
#include <stddef.h>

// Saved by traps.S; the field order mirrors the pushes there.
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

static inline void port_out8(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %1" :: "a"(value), "Nd"(port)); }
static inline void port_out16(uint16_t port, uint16_t value) { __asm__ volatile("outw %0, %1" :: "a"(value), "Nd"(port)); }
static inline void port_out32(uint16_t port, uint32_t value) { __asm__ volatile("outl %0, %1" :: "a"(value), "Nd"(port)); }
static inline uint8_t port_in8(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline void cpu_halt(void) { __asm__ volatile("hlt"); }
static inline void cpu_disable_interrupts(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void cpu_enable_interrupts(void) { __asm__ volatile("sti" ::: "memory"); }
// Waits for an interrupt with interrupts enabled, then disables them again (the kernel runs with IF=0).
static inline void cpu_idle(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
static inline void cpu_pause(void) { __asm__ volatile("pause"); }

static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" :: "r"(v) : "memory"); }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }
static inline void invalidate_page(uint64_t address) { __asm__ volatile("invlpg (%0)" :: "r"(address) : "memory"); }
/// INVPCID of `type` (0 one address of a PCID, 1 all of a PCID, 2 everything incl. global, 3 all but global).
static inline void invpcid(uint64_t type, uint64_t pcid, uint64_t address) {
    struct { uint64_t pcid, address; } descriptor = { pcid, address };
    __asm__ volatile("invpcid %0, %1" :: "m"(descriptor), "r"(type) : "memory");
}
// FXSAVE64/FXRSTOR64: the user's x87/SSE state, saved and restored at thread switches (512 bytes,
// 16-byte aligned). The kernel itself never touches that state.
static inline void fpu_save(void *area) { __asm__ volatile("fxsave64 (%0)" :: "r"(area) : "memory"); }
static inline void fpu_restore(const void *area) { __asm__ volatile("fxrstor64 (%0)" :: "r"(area) : "memory"); }
static inline uint64_t read_rbp(void) { uint64_t v; __asm__ volatile("mov %%rbp, %0" : "=r"(v)); return v; }
static inline uint64_t read_rflags(void) { uint64_t v; __asm__ volatile("pushfq; popq %0" : "=r"(v)); return v; }
static inline uint64_t read_rsp(void) { uint64_t v; __asm__ volatile("mov %%rsp, %0" : "=r"(v)); return v; }
static inline uint64_t read_tsc(void) { uint32_t lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((uint64_t)hi << 32) | lo; }
/// One register of CPUID(leaf, subleaf): index 0 EAX, 1 EBX, 2 ECX, 3 EDX.
static inline uint32_t cpuid_register(uint32_t leaf, uint32_t subleaf, int index) {
    uint32_t r[4]; __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
    return r[index & 3];
}
static inline uint64_t read_msr(uint32_t msr) { uint32_t lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return ((uint64_t)hi << 32) | lo; }
// CPUID: one register of a leaf (and subleaf); the maximum basic leaf is cpuid_eax(0, 0).
static inline uint32_t cpuid_eax(uint32_t leaf, uint32_t subleaf) { uint32_t a, b, c, d; __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(subleaf)); return a; }
static inline uint32_t cpuid_ebx(uint32_t leaf, uint32_t subleaf) { uint32_t a, b, c, d; __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(subleaf)); return b; }
static inline void write_msr(uint32_t msr, uint64_t v) { __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))); }

// Device registers through an uncached mapping: volatile accesses of exactly this width.
static inline uint32_t mmio_read32(uint64_t address) { return *(volatile uint32_t *)address; }
static inline void mmio_write32(uint64_t address, uint32_t value) { *(volatile uint32_t *)address = value; }
static inline uint64_t mmio_read64(uint64_t address) { return *(volatile uint64_t *)address; }
static inline void mmio_write64(uint64_t address, uint64_t value) { *(volatile uint64_t *)address = value; }
// Keeps the compiler from moving memory accesses across this point.
static inline void compiler_barrier(void) { __asm__ volatile("" ::: "memory"); }

// Loads a GDT or IDT from a 10-byte pseudo-descriptor (limit, base).
static inline void load_gdt(const void *pointer) { __asm__ volatile("lgdt (%0)" :: "r"(pointer) : "memory"); }
static inline void load_idt(const void *pointer) { __asm__ volatile("lidt (%0)" :: "r"(pointer) : "memory"); }
static inline void load_task_register(uint16_t selector) { __asm__ volatile("ltr %0" :: "r"(selector)); }

// Reloads CS with a far return and the data segment registers.
static inline void reload_segments(uint16_t code, uint16_t data) {
    __asm__ volatile(
        "pushq %q0\n"
        "leaq 1f(%%rip), %%rax\n"
        "pushq %%rax\n"
        "lretq\n"
        "1:\n"
        "mov %w1, %%ds\n"
        "mov %w1, %%es\n"
        "mov %w1, %%ss\n"
        :: "r"((uint64_t)code), "r"(data) : "rax", "memory");
}

// A deliberate invalid opcode, for tests of the exception path.
static inline void cpu_invalid_opcode(void) { __asm__ volatile("ud2"); }
// A deliberate breakpoint trap (#BP), which returns.
static inline void cpu_breakpoint(void) { __asm__ volatile("int3"); }
// `triplefault_test`: an IDT of limit 0 makes int3 a #GP, then a #DF, then a triple fault (CPU reset).
static inline void cpu_triple_fault(void) {
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } empty = { 0, 0 };
    __asm__ volatile("lidt %0; int3" :: "m"(empty) : "memory");
}

// Symbols of traps.S, entry.S and linker.ld, reached through accessors (Swift would import a sized
// array as a giant tuple).
extern const uint64_t trap_stubs[];
extern uint8_t boot_stack_bottom[], boot_stack_top[];
extern uint8_t idt_storage[], gdt_storage[], tss_storage[], ist_stacks[], heap_bootstrap_pool[];
extern uint8_t __kernel_start[], __kernel_end[], __build_id_note[], __build_id_note_end[];
extern uint8_t __text_end[], __rodata_start[], __rodata_end[], __data_start[], boot_stack_guard[];
extern uint64_t boot_pml4[];

static inline const uint64_t *trap_stub_table(void) { return trap_stubs; }
static inline uint8_t *symbol_boot_stack_bottom(void) { return boot_stack_bottom; }
static inline uint8_t *symbol_boot_stack_top(void) { return boot_stack_top; }
static inline uint8_t *symbol_idt_storage(void) { return idt_storage; }
static inline uint8_t *symbol_gdt_storage(void) { return gdt_storage; }
static inline uint8_t *symbol_tss_storage(void) { return tss_storage; }
static inline uint8_t *symbol_ist_stacks(void) { return ist_stacks; }
static inline uint8_t *symbol_heap_bootstrap_pool(void) { return heap_bootstrap_pool; }
static inline uint8_t *symbol_kernel_start(void) { return __kernel_start; }
static inline uint8_t *symbol_kernel_end(void) { return __kernel_end; }
static inline uint8_t *symbol_build_id_note(void) { return __build_id_note; }
static inline uint8_t *symbol_build_id_note_end(void) { return __build_id_note_end; }
static inline uint64_t *symbol_boot_pml4(void) { return boot_pml4; }
static inline uint8_t *symbol_text_end(void) { return __text_end; }
static inline uint8_t *symbol_rodata_start(void) { return __rodata_start; }
static inline uint8_t *symbol_rodata_end(void) { return __rodata_end; }
static inline uint8_t *symbol_data_start(void) { return __data_start; }
static inline uint8_t *symbol_boot_stack_guard(void) { return boot_stack_guard; }

// probes.S: accesses that may fault on purpose (hardening tests) and a call on another stack. A fault
// in a probe while Traps.probe is armed returns from the probe with PROBE_FAULTED in rax.
#define PROBE_FAULTED 0xfa017fa017fa017fULL
uint64_t probe_read64(uint64_t address);
uint64_t probe_read64_user_allowed(uint64_t address);
uint64_t probe_write64(uint64_t address, uint64_t value);
uint64_t probe_call(uint64_t address);
void run_on_stack(uint64_t top, void (*function)(void));
// traps.S: 1 when CR4.SMAP is on, so that entries from user mode clear RFLAGS.AC (stac state).
extern uint8_t cpu_smap_enabled;
static inline void set_cpu_smap_enabled(uint8_t on) { cpu_smap_enabled = on; }

// syscall.S
void switch_context(uint64_t *save, uint64_t next);
void syscall_entry(void);
void user_thread_start(void);
static inline uint64_t address_of_syscall_entry(void) { return (uint64_t)syscall_entry; }
static inline uint64_t address_of_user_thread_start(void) { return (uint64_t)user_thread_start; }

// entry.S: per-CPU data and the syscall tracker table (layout: ABI TrackerLayout).
extern uint64_t percpu_storage[], syscall_tracker[];
static inline uint64_t *symbol_percpu(void) { return percpu_storage; }
extern uint64_t kernel_lock_word[], shootdown_request[];
static inline uint64_t *symbol_kernel_lock(void) { return kernel_lock_word; }
static inline uint64_t *symbol_shootdown_request(void) { return shootdown_request; }
static inline uint64_t *symbol_syscall_tracker(void) { return syscall_tracker; }

// Debug/threads.S: the thread registry debuggers read (Debug/ThreadRegistry.swift writes it).
extern uint64_t debug_threads[], debug_threads_dropped[];
static inline uint64_t *symbol_debug_threads(void) { return debug_threads; }
static inline uint64_t *symbol_debug_threads_dropped(void) { return debug_threads_dropped; }

// Boot/trampoline.S: the application processors' real-mode start (copied below 1 MiB), its parameter
// block, and their first page tables.
extern uint8_t ap_trampoline_start[], ap_trampoline_end[], ap_trampoline_params[];
extern uint64_t ap_boot_pml4[], ap_boot_pdpt[], ap_boot_pd[];
static inline uint8_t *symbol_ap_trampoline_start(void) { return ap_trampoline_start; }
static inline uint8_t *symbol_ap_trampoline_end(void) { return ap_trampoline_end; }
static inline uint8_t *symbol_ap_trampoline_params(void) { return ap_trampoline_params; }
static inline uint64_t *symbol_ap_boot_pml4(void) { return ap_boot_pml4; }
static inline uint64_t *symbol_ap_boot_pdpt(void) { return ap_boot_pdpt; }
static inline uint64_t *symbol_ap_boot_pd(void) { return ap_boot_pd; }

// Shared words between CPUs: sequentially consistent loads, stores and adds (x86: plain moves and
// `lock xadd`), and one word of this CPU's per-CPU block (gs base in kernel mode).
static inline uint64_t atomic_load64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void atomic_store64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t atomic_fetch_add64(uint64_t *p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t atomic_exchange64(uint64_t *p, uint64_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t atomic_fetch_or64(uint64_t *p, uint64_t v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t read_gs64(uint64_t offset) { uint64_t v; __asm__ volatile("movq %%gs:(%1), %0" : "=r"(v) : "r"(offset)); return v; }
// The Swift runtime's release, for a reference kept by hand in a word (the PerCPU block's `current`:
// Scheduler.swapCurrent), where Unmanaged's release costs a retain and a release of two.
void swift_release(void *object);
static inline void release_object(uint64_t object) { swift_release((void *)object); }
static inline void write_gs64(uint64_t offset, uint64_t v) { __asm__ volatile("movq %0, %%gs:(%1)" : : "r"(v), "r"(offset) : "memory"); }
// Debug/trace.S: the syscall trace buffer and the process table (layouts: ABI SyscallTraceLayout.swift).
extern uint64_t syscall_trace[], debug_processes[], debug_processes_dropped[];
static inline uint64_t *symbol_syscall_trace(void) { return syscall_trace; }
extern uint8_t kernel_log_ring[];
static inline uint8_t *symbol_kernel_log_ring(void) { return kernel_log_ring; }
static inline uint64_t *symbol_debug_processes(void) { return debug_processes; }
static inline uint64_t *symbol_debug_processes_dropped(void) { return debug_processes_dropped; }
