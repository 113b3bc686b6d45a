// crashtest: faults on purpose three calls deep, so that tests can check the kernel's user fault report
// (cause, registers, and a markup stack trace that resolves to this file's lines) and that the system
// goes on. Root starts it from its boot module in the `elf_child_fault` test.

let programName: StaticString = "crashtest"

/// Keeps the calls below real calls (a tail jump would leave no frame).
var crashDepth = 0

@inline(never) func crashLevel3(_ address: UInt64) {
    let p = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address))!
    p.pointee = 0xdead
    crashDepth += 1
}

// Different work after each call, so the optimizer neither merges these functions nor makes tail calls.
@inline(never) func crashLevel2(_ address: UInt64) { crashLevel3(address); crashDepth += 2 }
@inline(never) func crashLevel1(_ address: UInt64) { crashLevel2(address &+ 0); crashDepth *= 3 }

func programMain(_ startup: Startup) -> Int32 {
    print("crashtest: writing to an unmapped address on purpose")
    crashLevel1(0x0000_0bad_0000_0000)
    return 0
}
