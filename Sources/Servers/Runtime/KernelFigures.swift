// The kernel's memory and object figures (system_info) and a wait until they are back at a baseline:
// the leak checks of the fuzzer's runs (root) and of the test suite (systest).

/// The figures a leak check compares.
public struct KernelFigures: Equatable {
    /// How far the kernel heap may grow over a baseline before a check counts it as lost (its small pages
    /// stay with their size class once carved).
    public static let heapPageBound: UInt64 = 256

    public var freeFrames: UInt64
    public var heapPages: UInt64
    public var liveObjects: UInt64

    public static func now() -> KernelFigures {
        KernelFigures(freeFrames: (try? systemInfo(.freeFrames)) ?? 0, heapPages: (try? systemInfo(.heapPages)) ?? 0,
                      liveObjects: (try? systemInfo(.liveObjects)) ?? 0)
    }

    /// Frames and objects back at `baseline`, heap pages counted as taken frames, heap growth bounded.
    public func matches(_ baseline: KernelFigures) -> Bool {
        liveObjects == baseline.liveObjects && freeFrames + heapPages == baseline.freeFrames + baseline.heapPages
            && heapPages <= baseline.heapPages + KernelFigures.heapPageBound
    }
}

/// Lets dying threads and processes be freed (the caller drops to the lowest priority and yields) until the
/// figures equal `baseline` or 3 s pass on the clock; the figures then.
@discardableResult
public func settle(until baseline: KernelFigures) -> KernelFigures {
    let me = try? threadSelf()
    if let me { try? threadSetPriority(me, 0) }
    let start = Clock.now()
    var now = KernelFigures.now()
    while !now.matches(baseline), Clock.now() - start < 3_000_000_000 {
        threadYield()
        now = KernelFigures.now()
    }
    if let me { try? threadSetPriority(me, 16); try? handleClose(me) }
    return now
}
