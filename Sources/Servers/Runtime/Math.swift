// C math the Embedded Swift standard library calls in user programs: Dictionary and Set size their hash
// tables with `ceil`. Written without calling the libm function it stands for (truncation is one
// cvttsd2si instruction).

@_cdecl("ceil")
public func runtimeCeil(_ x: Double) -> Double {
    // NaN, infinities and values of 2^52 and up are whole numbers already.
    guard x.magnitude < 4_503_599_627_370_496.0 else { return x }
    let truncated = Double(Int64(x))
    return truncated < x ? truncated + 1 : truncated
}
