// fakekernel: runs a user ELF of this OS (build/servers/root.elf) as a Linux process under ptrace, against
// a rough model of the syscall ABI of Sources/ABI/Syscalls.swift, to smoke-test the runtime (start, heap,
// print, threads, fatal) and the root test suite's own logic before the real kernel can run them.
// It is a model of one reading of the ABI comments, not the kernel: where they disagree the ABI decides.
// Linux only (`make runtime-fake-test`).
//
// How: every `syscall` of the tracee stops here. Handles, rights and objects live in this tracer. Frames
// are memfds; mapping one into the tracee's own address space injects open(/proc/TRACER/fd/N), mmap
// (MAP_SHARED | MAP_FIXED_NOREPLACE) and close into the tracee (re-executing its syscall instruction), so
// shared memory is real, and system_info(freeFrames) counts the memfds' allocated pages (lazy zeroing).
// Threads of the tracee's own process are Linux threads (an injected clone, started at their entry).
// Child processes are not run natively: the few instructions the test suite writes into child code pages
// are interpreted here (mov imm32, syscall process_exit/frame_get_size, loads and stores with mapping
// permissions, ud2 and anything else as a fault, `jmp .` as a spinning thread).
// Per-thread syscall state is reached through the macros below (phase, saved, err, …  = T->…_).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <sys/user.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/stat.h>

enum { T_NONE, T_PROCESS, T_THREAD, T_VMEM, T_FRAME, T_RECEIVER, T_REPLY, T_SENDER, T_NOTIFY };
enum { R_READ = 1, R_WRITE = 2, R_EXEC = 4, R_MAP = 8, R_DUP = 16, R_TRANSFER = 32, R_MANAGE = 64, R_WAIT = 128, R_SIGNAL = 256 };
enum { E_HANDLE = 1, E_TYPE, E_ACCESS, E_ADDR, E_MISALIGNED, E_INVAL, E_OVERLAP, E_NOTMAPPED, E_NOMEM, E_NOVM, E_STATE, E_UNKNOWN, E_TOOLARGE };
static uint32_t defaults[] = {0, R_READ|R_WRITE|R_DUP|R_TRANSFER|R_MANAGE|R_WAIT, R_READ|R_WRITE|R_DUP|R_TRANSFER|R_MANAGE|R_WAIT,
    R_READ|R_WRITE|R_MAP|R_DUP|R_TRANSFER|R_MANAGE, R_READ|R_WRITE|R_EXEC|R_MAP|R_DUP|R_TRANSFER|R_MANAGE,
    R_WAIT|R_DUP|R_TRANSFER, R_SIGNAL|R_TRANSFER, R_SIGNAL|R_DUP|R_TRANSFER, R_WAIT|R_SIGNAL|R_DUP|R_TRANSFER};

#define MAXM 64
struct obj { int type, refs; int fd; uint64_t size; int mapcount;                  // frame
             struct obj *vm; int self;                                              // process, vmem(self)
             int nmap; uint64_t maddr[MAXM], mlen[MAXM], moff[MAXM]; struct obj *mframe[MAXM]; int mhandle[MAXM];  // vmem
             int state; uint64_t regs[20]; struct obj *proc; int exited; uint64_t code; struct obj *given[8]; int mprot[MAXM]; };                                       // thread: 0 new 1 started 2 stopped
struct handle { struct obj *o; uint32_t rights; int mapped; } H[4096];
static int live;
static struct obj *frames[1 << 16]; static int nframes;   // live frames, for system_info(freeFrames)
static uint64_t free_frames(void) {
    uint64_t used = 0; struct stat st;
    for (int i = 0; i < nframes; i++) if (fstat(frames[i]->fd, &st) == 0) used += (uint64_t)st.st_blocks * 512 / 4096;
    return 1000000 - used;
}
static pid_t pid;

static struct obj *newobj(int type) { struct obj *o = calloc(1, sizeof *o); o->type = type; o->refs = 0; live++; return o; }
static void unref(struct obj *o) {
    if (--o->refs) return;
    if (o->type == T_FRAME) { close(o->fd); for (int i = 0; i < nframes; i++) if (frames[i] == o) { frames[i] = frames[--nframes]; break; } }
    if (o->type == T_THREAD && o->proc) unref(o->proc);
    if (o->type == T_PROCESS) { if (o->vm) unref(o->vm); for (int k = 0; k < 8; k++) if (o->given[k]) unref(o->given[k]); }
    if (o->type == T_VMEM) for (int i = 0; i < o->nmap; i++) unref(o->mframe[i]);
    live--; free(o);
}
static int newhandle(struct obj *o, uint32_t rights) { for (int i = 1; i < 4096; i++) if (!H[i].o) { H[i].o = o; H[i].rights = rights; H[i].mapped = 0; o->refs++; return i; } return 0; }
static int get(uint64_t h, int type, uint32_t right, struct obj **out) {
    if (h == 0 || h >= 4096 || !H[h].o) return E_HANDLE;
    if (type && H[h].o->type != type) return E_TYPE;
    if ((H[h].rights & right) != right) return E_ACCESS;
    *out = H[h].o; return 0;
}
static int rd(uint64_t addr, void *buf, size_t len) { struct iovec l = {buf, len}, r = {(void *)addr, len}; return len == 0 || process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : E_ADDR; }
static int wr(uint64_t addr, void *buf, size_t len) { struct iovec l = {buf, len}, r = {(void *)addr, len}; return len == 0 || process_vm_writev(pid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : E_ADDR; }
static int findmap(struct obj *v, uint64_t a) { for (int i = 0; i < v->nmap; i++) if (a >= v->maddr[i] && a < v->maddr[i] + v->mlen[i]) return i; return -1; }

#define FD0 0xfdfdfdfdull
struct inj { long nr; uint64_t a[6]; };
struct ts { pid_t tid; int used; int phase_; struct user_regs_struct saved_; uint64_t err_, val_; struct inj Q_[4]; int qn_, qi_; uint64_t res_[4];
            int pending_map_; struct obj *pending_vm_; uint64_t pend_[4]; struct obj *thread; struct obj *waiting; int held; } TS[64];
static struct ts *ts_of(pid_t tid) { for (int i = 0; i < 64; i++) if (TS[i].used && TS[i].tid == tid) return &TS[i];
    for (int i = 0; i < 64; i++) if (!TS[i].used) { memset(&TS[i], 0, sizeof TS[i]); TS[i].used = 1; TS[i].tid = tid; TS[i].pending_map_ = -1; return &TS[i]; } abort(); }
static struct obj *pending_start[64]; static int npending;
#define SCRATCH 0x300000000000ull

static int vread(struct obj *v, uint64_t a, void *buf, int len, int needprot) {
    int i = findmap(v, a); if (i < 0 || (v->mprot[i] & needprot) != needprot || a + len > v->maddr[i] + v->mlen[i]) return -1;
    pread(v->mframe[i]->fd, buf, len, v->moff[i] + a - v->maddr[i]); return 0;
}
static int vwrite(struct obj *v, uint64_t a, void *buf, int len) {
    int i = findmap(v, a); if (i < 0 || !(v->mprot[i] & 2) || a + len > v->maddr[i] + v->mlen[i]) return -1;
    pwrite(v->mframe[i]->fd, buf, len, v->moff[i] + a - v->maddr[i]); return 0;
}
static void child_run(struct obj *t) {
    struct obj *p = t->proc, *v = p->vm;
    uint64_t rip = t->regs[16], rdi = t->regs[5], rax = 0, rdx = 0; int zf = 0;
    for (int step = 0; step < 100; step++) {
        uint8_t c[16]; memset(c, 0, 16);
        if (vread(v, rip, c, 2, 5) < 0) break;
        vread(v, rip, c, 16, 5);
        uint32_t i32 = c[1] | c[2] << 8 | c[3] << 16 | (uint32_t)c[4] << 24;
        if (c[0] == 0xbf) { rdi = i32; rip += 5; }
        else if (c[0] == 0xb8) { rax = i32; rip += 5; }
        else if (c[0] == 0x0f && c[1] == 0x05) {
            rip += 2;
            if (rax == 7) { p->exited = 1; p->code = rdi; t->state = 3; return; }
            if (rax == 26) { uint64_t k = rdi - 0x100; if (k < 8 && p->given[k] && p->given[k]->type == T_FRAME) { rax = 0; rdx = p->given[k]->size; } else rax = E_HANDLE; }
            else rax = E_UNKNOWN;
        }
        else if (c[0] == 0xeb && c[1] == 0xfe) { t->regs[16] = rip; return; }   // spins until stopped
        else if (c[0] == 0x48 && c[1] == 0x85 && c[2] == 0xc0) { zf = rax == 0; rip += 3; }
        else if (c[0] == 0x74) { rip += 2; if (zf) rip += (int8_t)c[1]; }
        else if (c[0] == 0x48 && c[1] == 0x89 && c[2] == 0xc2) { rdx = rax; rip += 3; }
        else if (c[0] == 0x48 && c[1] == 0x89 && c[2] == 0xd7) { rdi = rdx; rip += 3; }
        else if (c[0] == 0xc7 && c[1] == 0x04 && c[2] == 0x25) { uint32_t ad = c[3] | c[4] << 8 | c[5] << 16 | (uint32_t)c[6] << 24, val = c[7] | c[8] << 8 | c[9] << 16 | (uint32_t)c[10] << 24;
            if (vwrite(v, ad, &val, 4) < 0) break; rip += 11; }
        else if (c[0] == 0x8b && c[1] == 0x3c && c[2] == 0x25) { uint32_t ad = c[3] | c[4] << 8 | c[5] << 16 | (uint32_t)c[6] << 24, val;
            if (vread(v, ad, &val, 4, 1) < 0) break; rdi = val; rip += 7; }
        else if (c[0] == 0x48 && c[1] == 0x8b && c[2] == 0x04 && c[3] == 0x25) { uint32_t ad = c[4] | c[5] << 8 | c[6] << 16 | (uint32_t)c[7] << 24;
            if (vread(v, ad, &rax, 8, 1) < 0) break; rip += 8; }
        else break;
    }
    p->exited = 1; p->code = 0xfa017; t->state = 3;     // a fault ends the process
}

int main(int argc, char **argv) {
    pid = fork();
    if (pid == 0) { ptrace(PTRACE_TRACEME, 0, 0, 0); execv(argv[1], argv + 1); _exit(127); }
    int status; waitpid(pid, &status, 0);
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE);
    struct user_regs_struct regs;
    ptrace(PTRACE_GETREGS, pid, 0, &regs);
    struct obj *vm = newobj(T_VMEM); vm->self = 1; struct obj *pr = newobj(T_PROCESS); pr->vm = vm; struct obj *th = newobj(T_THREAD); th->state = 1;
    int hp = newhandle(pr, defaults[T_PROCESS]), hv = newhandle(vm, defaults[T_VMEM]), ht = newhandle(th, defaults[T_THREAD]);
    uint64_t block[5] = {0x0050555452415453ull, hp, hv, ht, 0};
    uint64_t at = (regs.rsp - 8192) & ~15ull;
    for (int i = 0; i < 5; i++) ptrace(PTRACE_POKEDATA, pid, at + i * 8, block[i]);
    regs.rdi = at; ptrace(PTRACE_SETREGS, pid, 0, &regs);
    int scratch = 0; long calls = 0;   // scratch: the page for injected paths is mapped on the first call
    struct ts *T = ts_of(pid); T->thread = th;
#define phase (T->phase_)
#define saved (T->saved_)
#define err (T->err_)
#define val (T->val_)
#define Q (T->Q_)
#define qn (T->qn_)
#define qi (T->qi_)
#define res (T->res_)
#define pending_map (T->pending_map_)
#define pending_vm (T->pending_vm_)
#define pend (T->pend_)
    pid_t tid = pid;
    ptrace(PTRACE_SYSCALL, pid, 0, 0);
    for (;;) {
        tid = waitpid(-1, &status, __WALL);
        if (tid < 0) break;
        if (tid != pid && (WIFEXITED(status) || WIFSIGNALED(status))) continue;
        T = ts_of(tid);
        if (WIFEXITED(status)) { printf("[fake] exited %d after %ld calls, %d live objects\n", WEXITSTATUS(status), calls, live); return 0; }
        if (WIFSIGNALED(status)) { printf("[fake] killed by signal %d\n", WTERMSIG(status)); return 0; }
        ptrace(PTRACE_GETREGS, tid, 0, &regs);
        if (status >> 16) { ptrace(PTRACE_SYSCALL, tid, 0, 0); continue; }    // clone event of the parent
        if (WSTOPSIG(status) == SIGSTOP && T->thread == 0) {                    // a new thread: start it at its entry
            struct obj *o = pending_start[0]; memmove(pending_start, pending_start + 1, sizeof(void *) * 63); npending--;
            T->thread = o; regs.rip = o->regs[16]; regs.rsp = o->regs[7]; regs.rdi = o->regs[5]; regs.rbp = 0; regs.rax = 0;
            ptrace(PTRACE_SETREGS, tid, 0, &regs); ptrace(PTRACE_SYSCALL, tid, 0, 0); continue;
        }
        if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
            siginfo_t si; ptrace(PTRACE_GETSIGINFO, tid, 0, &si);
            printf("[fake] fault: signal %d at rip %llx addr %p\n", WSTOPSIG(status), regs.rip, si.si_addr);
            kill(pid, SIGKILL); return 0;
        }
        if (phase == 3) { phase = 2; goto resume; }         // entry of an injected call: let it run
        if (phase == 2) {                               // exit of an injected call
            res[qi++] = regs.rax;
            if (qi < qn) {
                regs = saved; regs.rip -= 2; regs.rax = Q[qi].nr;
                uint64_t *a[6] = {(uint64_t *)&regs.rdi, (uint64_t *)&regs.rsi, (uint64_t *)&regs.rdx, (uint64_t *)&regs.r10, (uint64_t *)&regs.r8, (uint64_t *)&regs.r9};
                for (int k = 0; k < 6; k++) *a[k] = Q[qi].a[k] == FD0 ? res[0] : Q[qi].a[k];
                ptrace(PTRACE_SETREGS, tid, 0, &regs); phase = 3; goto resume;
            }
            // all done: the original call, or its result
            if (pending_map >= 0) {
                if ((int64_t)res[1] < 0) { err = E_NOMEM; }
                else { struct obj *v = pending_vm; int i = v->nmap++; v->maddr[i] = pend[0]; v->mlen[i] = pend[1]; v->moff[i] = pend[2];
                       v->mframe[i] = H[pending_map].o; v->mhandle[i] = pending_map; H[pending_map].mapped = 1; H[pending_map].o->refs++; H[pending_map].o->mapcount++; }
                pending_map = -1;
            }
            if (!scratch) { scratch = 1; regs = saved; regs.rip -= 2; regs.rax = saved.orig_rax; ptrace(PTRACE_SETREGS, tid, 0, &regs); phase = 0; goto resume; }
            regs = saved; regs.rax = err; regs.rdx = val; ptrace(PTRACE_SETREGS, tid, 0, &regs); phase = 0; goto resume;
        }
        if (phase == 1) { regs.rax = err; regs.rdx = val; ptrace(PTRACE_SETREGS, tid, 0, &regs); phase = 0; goto resume; }
        // phase 0: an original call's entry (a stray exit stop, e.g. of clone in a new thread, just resumes)
        if ((int64_t)regs.rax != -38) goto resume;
        saved = regs;
        if (!scratch) {
            qn = 1; qi = 0; Q[0] = (struct inj){9, {SCRATCH, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0}};
            regs.orig_rax = 9; regs.rdi = SCRATCH; regs.rsi = 4096; regs.rdx = Q[0].a[2]; regs.r10 = Q[0].a[3]; regs.r8 = -1; regs.r9 = 0;
            ptrace(PTRACE_SETREGS, tid, 0, &regs); phase = 2; goto resume;
        }
        calls++;
        uint64_t n = regs.orig_rax, a0 = regs.rdi, a1 = regs.rsi, a2 = regs.rdx, a3 = regs.r10, a4 = regs.r8, a5 = regs.r9;
        err = 0; val = 0; long linux_nr = 39; int inject = 0;
        struct obj *o = 0, *p = 0;
        switch (n) {
        case 0: { char buf[4097]; if (a1 > 4096) { err = E_TOOLARGE; break; } if ((err = rd(a0, buf, a1))) break; fwrite(buf, 1, a1, stdout); fflush(stdout); break; }
        case 1: if (!(err = get(a0, 0, 0, &o))) val = (uint64_t)o->type << 32 | H[a0].rights; break;
        case 2: if ((err = get(a0, 0, R_DUP, &o))) break; if (a1 & ~H[a0].rights) { err = E_ACCESS; break; } val = newhandle(o, a1); break;
        case 3: if ((err = get(a0, 0, 0, &o))) break; H[a0].o = 0; unref(o); break;
        case 4: if ((err = get(a0, T_VMEM, R_MAP, &o))) break; p = newobj(T_PROCESS); p->vm = o; o->refs++; val = newhandle(p, defaults[T_PROCESS]); break;
        case 5: val = newhandle(pr, defaults[T_PROCESS]); break;
        case 6: if ((err = get(a0, T_PROCESS, R_WRITE, &p))) break; if ((err = get(a1, 0, R_TRANSFER, &o))) break;
                if (H[a1].mapped) { /* keep it simple */ } for (int k = 0; k < 8; k++) if (!p->given[k]) { p->given[k] = o; o->refs++; val = 0x100 + k; break; } H[a1].o = 0; unref(o); break;
        case 7: linux_nr = 231; break;
        case 8: if ((err = get(a0, T_PROCESS, R_WAIT, &o))) break; if (o->exited) val = o->code; else err = E_STATE; break;
        case 9: if ((err = get(a0, T_PROCESS, R_MANAGE, &p))) break; o = newobj(T_THREAD); o->proc = p; p->refs++; o->regs[16] = a1; o->regs[7] = a2; o->regs[5] = a3; val = newhandle(o, defaults[T_THREAD]); break;
        case 10: val = newhandle(T->thread ? T->thread : th, defaults[T_THREAD]); break;
        case 11: if ((err = get(a0, T_THREAD, R_MANAGE, &o))) break; if (o->state) { err = E_STATE; break; } if (o->proc == pr) { o->state = 1; o->refs++; pending_start[npending++] = o;
                    qn = 1; Q[0] = (struct inj){56, {CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, o->regs[7], 0, 0, 0, 0}};
                    inject = 1; break; } o->state = 1; child_run(o); break;
        case 12: if ((err = get(a0, T_THREAD, R_MANAGE, &o))) break; if (o->state == 3) break; o->state = 2; break;
        case 13: if ((err = get(a0, T_THREAD, R_MANAGE, &o))) break; if (a1 > 31) err = E_INVAL; break;
        case 14: if ((err = get(a0, T_THREAD, R_WAIT, &o))) break; if (o->state == 2) val = ~0ull; else if (o->state == 4) val = o->code;
                else if (o->state == 1 && o->proc == pr) { T->waiting = o; T->held = 1; o->refs++; } else err = E_STATE; break;
        case 15: case 16: if ((err = get(a0, T_THREAD, n == 15 ? R_READ : R_WRITE, &o))) break; if (a2 != 160) { err = E_INVAL; break; }
                if (o->state == 1) { err = E_STATE; break; } err = n == 15 ? wr(a1, o->regs, 160) : rd(a1, o->regs, 160); break;
        case 17: linux_nr = 60; if (T->thread && T->thread != th) { struct obj *me = T->thread; me->state = 4; me->code = a0;
                    for (int k = 0; k < 64; k++) if (TS[k].used && TS[k].waiting == me) { struct user_regs_struct wr_; ptrace(PTRACE_GETREGS, TS[k].tid, 0, &wr_);
                        wr_.orig_rax = 39; ptrace(PTRACE_SETREGS, TS[k].tid, 0, &wr_); TS[k].val_ = a0; TS[k].err_ = 0; TS[k].phase_ = 1; TS[k].held = 0; TS[k].waiting = 0; unref(me);
                        ptrace(PTRACE_SYSCALL, TS[k].tid, 0, 0); }
                    unref(me); T->used = 0; T->thread = 0; } break;
        case 18: linux_nr = 24; break;
        case 19: val = newhandle(newobj(T_VMEM), defaults[T_VMEM]); break;
        case 20: val = newhandle(vm, defaults[T_VMEM]); break;
        case 21: {
            struct obj *v, *f; if ((err = get(a0, T_VMEM, R_MAP, &v))) break;
            uint32_t need = R_MAP | R_READ | ((a5 & 2) ? R_WRITE : 0) | ((a5 & 4) ? R_EXEC : 0);
            if ((err = get(a1, T_FRAME, 0, &f))) break; if ((H[a1].rights & need) != need) { err = E_ACCESS; break; }
            if ((a2 | a3 | a4) & 4095) { err = E_MISALIGNED; break; }
            if (a4 == 0) { err = E_INVAL; break; }
            if (a2 + a4 < a2 || a2 + a4 > 0x7f8000000000ull) { err = E_ADDR; break; }
            if (((a5 >> 8) & 0xff) > 5) { err = E_INVAL; break; }
            if (a3 > f->size || a4 > f->size - a3) { err = E_INVAL; break; }
            if (H[a1].mapped) { err = E_STATE; break; }
            for (int i = 0; i < v->nmap; i++) if (a2 < v->maddr[i] + v->mlen[i] && v->maddr[i] < a2 + a4) { err = E_OVERLAP; break; }
            if (err) break;
            if (!v->self) { int i = v->nmap++; v->mprot[i] = a5 & 7; v->maddr[i] = a2; v->mlen[i] = a4; v->moff[i] = a3; v->mframe[i] = f; v->mhandle[i] = a1; H[a1].mapped = 1; f->refs++; f->mapcount++; break; }
            char path[64]; int len = snprintf(path, sizeof path, "/proc/%d/fd/%d", getpid(), f->fd) + 1;
            wr(SCRATCH, path, len);
            int prot = PROT_READ | ((a5 & 2) ? PROT_WRITE : 0) | ((a5 & 4) ? PROT_EXEC : 0);
            qn = 3; Q[0] = (struct inj){2, {SCRATCH, O_RDWR, 0, 0, 0, 0}};
            Q[1] = (struct inj){9, {a2, a4, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, FD0, a3}};
            Q[2] = (struct inj){3, {FD0, 0, 0, 0, 0, 0}};
            pending_map = a1; pending_vm = v; pend[0] = a2; pend[1] = a4; pend[2] = a3; inject = 1; break; }
        case 22: {
            struct obj *v; if ((err = get(a0, T_VMEM, R_MAP, &v))) break; if ((a1 | a2) & 4095) { err = E_MISALIGNED; break; }
            int i = findmap(v, a1); if (i < 0 || v->maddr[i] != a1 || v->mlen[i] != a2) { err = E_NOTMAPPED; break; }
            H[v->mhandle[i]].mapped = 0; v->mframe[i]->mapcount--; unref(v->mframe[i]);
            v->nmap--; v->maddr[i] = v->maddr[v->nmap]; v->mlen[i] = v->mlen[v->nmap]; v->moff[i] = v->moff[v->nmap]; v->mframe[i] = v->mframe[v->nmap]; v->mhandle[i] = v->mhandle[v->nmap];
            if (v->self) { qn = 1; Q[0] = (struct inj){11, {a1, a2, 0, 0, 0, 0}}; inject = 1; }
            break; }
        case 23: case 24: {
            struct obj *v; if ((err = get(a0, T_VMEM, n == 23 ? R_READ : R_WRITE, &v))) break;
            if (v->self) { err = E_INVAL; break; }
            char *buf = malloc(a3 + 1); uint64_t done = 0;
            if (n == 24 && (err = rd(a2, buf, a3))) { free(buf); break; }
            while (done < a3) { int i = findmap(v, a1 + done); if (i < 0) { err = E_ADDR; break; }
                uint64_t chunk = v->maddr[i] + v->mlen[i] - (a1 + done); if (chunk > a3 - done) chunk = a3 - done;
                uint64_t off = v->moff[i] + a1 + done - v->maddr[i];
                if (n == 23) pread(v->mframe[i]->fd, buf + done, chunk, off); else pwrite(v->mframe[i]->fd, buf + done, chunk, off);
                done += chunk; }
            if (!err && n == 23) err = wr(a2, buf, a3);
            free(buf); break; }
        case 25: if (a0 == 0) { err = E_INVAL; break; } if (a0 & 4095) { err = E_MISALIGNED; break; }
                o = newobj(T_FRAME); o->fd = memfd_create("frame", 0); ftruncate(o->fd, a0); o->size = a0; frames[nframes++] = o; val = newhandle(o, defaults[T_FRAME]); break;
        case 26: if (!(err = get(a0, T_FRAME, R_READ, &o))) val = o->size; break;
        case 27: { if ((err = get(a0, T_FRAME, R_MANAGE, &o))) break; if (a1 == 0) { err = E_INVAL; break; } if (a1 & 4095) { err = E_MISALIGNED; break; }
                int bad = 0; for (int i = 0; i < vm->nmap; i++) if (vm->mframe[i] == o && vm->moff[i] + vm->mlen[i] > a1) bad = 1;
                if (bad) { err = E_STATE; break; }
                ftruncate(o->fd, a1); o->size = a1; break; }
        case 28: case 29: { if ((err = get(a0, T_FRAME, n == 28 ? R_READ : R_WRITE, &o))) break;
                if (a1 > o->size || a3 > o->size - a1) { err = E_INVAL; break; }
                char *buf = malloc(a3 + 1);
                if (n == 28) { pread(o->fd, buf, a3, a1); err = wr(a2, buf, a3); } else { if (!(err = rd(a2, buf, a3))) pwrite(o->fd, buf, a3, a1); }
                free(buf); break; }
        case 30: val = newhandle(newobj(T_RECEIVER), defaults[T_RECEIVER]); break;
        case 31: if (!(err = get(a0, T_RECEIVER, R_WAIT, &o))) val = newhandle(newobj(T_SENDER), defaults[T_SENDER]); break;
        case 32: val = newhandle(newobj(T_REPLY), defaults[T_REPLY]); break;
        case 33: val = newhandle(newobj(T_NOTIFY), defaults[T_NOTIFY]); break;
        case 34: if (a0 == 0) val = free_frames(); else if (a0 == 1) val = live; else if (a0 == 2) val = calls; else err = E_INVAL; break;
        default: err = E_UNKNOWN;
        }
        if (inject && !err) {
            qi = 0; regs.orig_rax = Q[0].nr; regs.rdi = Q[0].a[0]; regs.rsi = Q[0].a[1]; regs.rdx = Q[0].a[2]; regs.r10 = Q[0].a[3]; regs.r8 = Q[0].a[4]; regs.r9 = Q[0].a[5];
            ptrace(PTRACE_SETREGS, tid, 0, &regs); phase = 2; goto resume;
        }
        pending_map = -1;
        regs.orig_rax = linux_nr; ptrace(PTRACE_SETREGS, tid, 0, &regs); phase = 1;
    resume:
        if (!T->held) ptrace(PTRACE_SYSCALL, tid, 0, 0);
    }
    return 0;
}
