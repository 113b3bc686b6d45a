import Testing
@testable import KernelCore

@Suite struct CPUPlacementTests {
    @Test func lastCPUWhenIdle() {
        #expect(CPUPlacement.choose(allowed: 0b1111, idle: 0b0110, here: 0, last: 2) == 2)
    }

    @Test func thisCPUBeforeAnotherIdleOne() {
        // Its last CPU is busy: this CPU, when allowed.
        #expect(CPUPlacement.choose(allowed: 0b1111, idle: 0b1100, here: 0, last: 1) == 0)
        // Not allowed here: the lowest idle CPU it may run on (CPU 2 is idle but not allowed).
        #expect(CPUPlacement.choose(allowed: 0b1010, idle: 0b1100, here: 0, last: 1) == 3)
        #expect(CPUPlacement.choose(allowed: 0b1110, idle: 0b1100, here: 0, last: 1) == 2)
    }

    @Test func thisCPUWhenNoneIsIdle() {
        #expect(CPUPlacement.choose(allowed: 0b1111, idle: 0, here: 1, last: 3) == 1)
        #expect(CPUPlacement.choose(allowed: 0b1111, idle: 0, here: 0, last: -1) == 0)
    }

    @Test func affinityWins() {
        // Not allowed here: its last CPU, else the lowest allowed.
        #expect(CPUPlacement.choose(allowed: 0b1000, idle: 0, here: 0, last: 3) == 3)
        #expect(CPUPlacement.choose(allowed: 0b1100, idle: 0b0001, here: 0, last: 1) == 2)
        #expect(CPUPlacement.choose(allowed: 0b0100, idle: 0b0001, here: 0, last: -1) == 2)
    }

    @Test func masks() {
        #expect(CPUPlacement.mask(count: 1) == 1)
        #expect(CPUPlacement.mask(count: 4) == 0b1111)
        #expect(CPUPlacement.mask(count: 64) == UInt64.max)
    }
}
