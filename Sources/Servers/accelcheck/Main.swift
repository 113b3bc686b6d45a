// accelcheck: the user half of the accelerator check (kernel command line `accelcheck`, see
// Sources/Kernel/Debug/AccelCheck.swift). Booted as the root module by `osh accel --check`: it is in
// ring 3, each wrapper below is a `syscall` that comes back through `sysret`, the heap's first touch
// of a page is a page fault the kernel fills and returns from, and the int3 is resumed by the kernel
// in this mode only. Exits 0 when every value came back as expected.

let programName: StaticString = "accelcheck"

func programMain(_ startup: Startup) -> Int32 {
    // syscall/sysret: a few calls whose results can be checked.
    guard let me = try? threadSelf(), (try? handleIdentify(me))?.type == .thread else { return 1 }
    for _ in 0..<100 { threadYield() }
    // Page faults: fresh heap pages, filled on first touch.
    var pages = [UInt64](repeating: 0, count: 4 * 4096 / 8)
    for i in stride(from: 0, to: pages.count, by: 512) { pages[i] = UInt64(i) &+ 1 }
    for i in stride(from: 0, to: pages.count, by: 512) where pages[i] != UInt64(i) &+ 1 { return 2 }
    // int3 from ring 3, resumed by the kernel.
    user_breakpoint()
    // The TSC moves forward in user mode too.
    let t0 = user_read_tsc()
    threadYield()
    guard user_read_tsc() > t0 else { return 3 }
    print("accelcheck: user steps done")
    return 0
}
