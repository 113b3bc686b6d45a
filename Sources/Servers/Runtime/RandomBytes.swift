// Random bytes for programs: `getrandom` asks rngd (the service `random`, Sources/ABI/RandomProtocol.swift)
// 32 bytes per call; `arc4random_buf` (also the standard library's hashing seeds) runs a ChaCha20
// generator of this process's own (Sources/Formats/ChaCha20.swift) keyed from rngd, rekeyed from rngd after
// every Random.rekeyBytes it hands out. A process without `import:random` (the boot servers, rngd itself)
// gets the TSC stirred through splitmix64 from arc4random_buf, and `.badState` from getrandom.

public enum Random {
    /// The Sender to rngd (`import:random`), set at start.
    public internal(set) static var service: Handle = .invalid
    /// Bytes the local generator hands out before it is rekeyed from rngd.
    static let rekeyBytes = 1 << 20
    /// runtime_locks index of the local generator.
    static let lockIndex: Int32 = 3
    static var generator: ChaCha20Generator? = nil
    static var sinceRekey = 0

    /// Fills `buffer` with bytes from rngd (one call per 32 bytes); `.badState` without `import:random`.
    public static func getrandom(_ buffer: UnsafeMutableRawBufferPointer) throws(SysError) {
        guard service != .invalid else { throw .badState }
        var i = 0
        while i < buffer.count {
            let r = try senderCall(service, IPCMessage(tag: IPCTag(label: RandomLabel.read.rawValue)))
            guard r.tag.label == 0, r.tag.words == 4 else { throw .badState }
            let words = [r.words.0, r.words.1, r.words.2, r.words.3]
            for w in words {
                for b in 0..<8 where i < buffer.count {
                    buffer[i] = UInt8(truncatingIfNeeded: w >> (UInt64(b) * 8))
                    i += 1
                }
            }
        }
    }

    /// arc4random_buf's bytes: the local generator when rngd keyed it, else nil.
    static func fill(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard service != .invalid else { return false }
        while runtime_lock_try(lockIndex) == 0 { threadYield() }
        defer { runtime_lock_release(lockIndex) }
        if generator == nil || sinceRekey >= rekeyBytes {
            var seed = [UInt8](repeating: 0, count: 32)
            let ok = seed.withUnsafeMutableBytes { b in (try? getrandom(b)) != nil }
            guard ok else { return false }
            if generator == nil { generator = ChaCha20Generator(seed: seed) } else { generator!.reseed(seed) }
            sinceRekey = 0
        }
        var done = 0
        while done < buffer.count {
            let n = min(buffer.count - done, ChaCha20Generator.maxFill)
            generator!.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)]))
            done += n
        }
        sinceRekey += buffer.count
        return true
    }
}

/// `count` random bytes from rngd into `buffer` (Linux's getrandom without flags); 0 or -1.
@_cdecl("getrandom")
public func getrandom(_ buffer: UnsafeMutableRawPointer, _ count: Int, _ flags: UInt32) -> Int {
    guard count >= 0 else { return -1 }
    do throws(SysError) { try Random.getrandom(UnsafeMutableRawBufferPointer(start: buffer, count: count)) } catch { return -1 }
    return count
}

/// Random bytes: the local ChaCha20 generator keyed from rngd, or (without rngd) the TSC stirred through
/// splitmix64 (Core), which is all the hashing seeds need.
@_cdecl("arc4random_buf")
public func arc4random_buf(_ buffer: UnsafeMutableRawPointer, _ count: Int) {
    if Random.fill(UnsafeMutableRawBufferPointer(start: buffer, count: count)) { return }
    splitMixFill(buffer, count: count, seed: read_tsc())
}
