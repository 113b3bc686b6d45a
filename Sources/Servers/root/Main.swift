// The root process: the first user program the kernel starts. It runs the userspace test suite.

let programName: StaticString = "root"

func programMain(_ startup: Startup) -> Int32 {
    print("root: hello")
    return 0
}
