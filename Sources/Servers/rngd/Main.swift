// rngd: random bytes (Sources/ABI/RandomProtocol.swift, the service `random`). Root starts it as a boot
// server with its Receiver (export:random); it needs no device capability: RDSEED and RDRAND are
// unprivileged instructions. At start it checks CPUID for them and tries each (a CPU may list one and
// never deliver), gathers 32 bytes from the best one present and 256 samples of TSC jitter (the low bits
// of time taken by yields and memory walks), and keys a ChaCha20 generator (Sources/Formats/ChaCha20.swift)
// with them. It reseeds from the same sources after every `reseedBytes` it serves. It says in its start
// line which sources it has, and plainly when there is no hardware source.

let programName: StaticString = "rngd"

/// Bytes served between reseeds.
let reseedBytes = 64 * 1024

struct Sources {
    var rdrand = false
    var rdseed = false

    /// Which instructions the CPU lists and delivers.
    static func probe() -> Sources {
        var s = Sources()
        let maxLeaf = cpu_id(0, 0).eax
        if cpu_id(1, 0).ecx & (1 << 30) != 0 { s.rdrand = Sources.delivers(cpu_rdrand64) }
        if maxLeaf >= 7, cpu_id(7, 0).ebx & (1 << 18) != 0 { s.rdseed = Sources.delivers(cpu_rdseed64) }
        return s
    }

    static func delivers(_ instruction: (UnsafeMutablePointer<UInt64>) -> Int32) -> Bool {
        var v: UInt64 = 0
        for _ in 0..<32 where instruction(&v) != 0 { return true }
        return false
    }

    var mask: RandomSources {
        var m: RandomSources = [.jitter]
        if rdrand { m.insert(.rdrand) }
        if rdseed { m.insert(.rdseed) }
        return m
    }

    /// 32 bytes from RDSEED, else RDRAND (retrying each word a few times); empty without either.
    func hardwareBytes() -> [UInt8] {
        guard rdseed || rdrand else { return [] }
        var out: [UInt8] = []
        for _ in 0..<4 {
            var v: UInt64 = 0
            for _ in 0..<64 {
                if rdseed && cpu_rdseed64(&v) != 0 { break }
                if rdrand && cpu_rdrand64(&v) != 0 { break }
            }
            for b in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (UInt64(b) * 8))) }
        }
        return out
    }
}

/// `count` bytes of timing jitter: each the low byte of the TSC ticks a yield and a walk over a buffer
/// took, XORed with the next sample's.
func jitterBytes(_ count: Int) -> [UInt8] {
    var scratch = [UInt8](repeating: 0, count: 4096)
    var out: [UInt8] = []
    var previous = user_read_tsc()
    while out.count < count {
        threadYield()
        var sum: UInt8 = 0
        for i in stride(from: Int(previous & 63), to: scratch.count, by: 64) {
            scratch[i] &+= UInt8(truncatingIfNeeded: previous)
            sum &+= scratch[i]
        }
        let t = user_read_tsc()
        out.append(UInt8(truncatingIfNeeded: (t &- previous) ^ ((t &- previous) >> 8)) ^ sum)
        previous = t
    }
    return out
}

final class RandomServer {
    let page: IPCBufferPage
    let sources: Sources
    var generator: ChaCha20Generator
    var served: UInt64 = 0
    var sinceReseed = 0

    init(page: IPCBufferPage, sources: Sources) {
        self.page = page
        self.sources = sources
        var seed = sources.hardwareBytes() + jitterBytes(32)
        seed = Array(seed[(seed.count - 32)...])
        generator = ChaCha20Generator(seed: seed)
        generator.reseed(sources.hardwareBytes() + jitterBytes(256))
    }

    func reseedIfDue(_ n: Int) {
        sinceReseed += n
        served += UInt64(n)
        guard sinceReseed >= reseedBytes else { return }
        generator.reseed(sources.hardwareBytes() + jitterBytes(32))
        sinceReseed = 0
    }

    func answer(_ m: IPCMessage) -> IPCMessage {
        for i in 0..<min(m.tag.handles, IPCBuffer.maxHandles) { _ = try? handleClose(page.handle(i)) }
        do throws(RandomError) {
            guard let label = RandomLabel(rawValue: m.tag.label), m.tag.words >= label.minimumWords,
                  m.tag.bytes == 0, m.tag.handles == 0 else { throw .badMessage }
            switch label {
            case .read:
                var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
                withUnsafeMutableBytes(of: &w) { generator.fill($0) }
                reseedIfDue(32)
                return IPCMessage(tag: IPCTag(words: 4, label: 0), words: w)
            case .readBytes:
                guard m.words.0 >= 1 && m.words.0 <= UInt64(IPCBuffer.maxBytes) else { throw .invalid }
                let n = Int(m.words.0)
                generator.fill(UnsafeMutableRawBufferPointer(rebasing: page.bytes[0..<n]))
                reseedIfDue(n)
                return IPCMessage(tag: IPCTag(words: 1, bytes: n, label: 0), words: (UInt64(n), 0, 0, 0))
            case .info:
                return IPCMessage(label: 0, sources.mask.rawValue, generator.reseeds, served)
            }
        } catch {
            return IPCMessage(tag: IPCTag(label: error.rawValue))
        }
    }

    func run(_ receiver: Handle) -> Int32 {
        return serveRequests(receiver, name: "rngd") { answer($0) }
    }
}

func programMain(_ startup: Startup) -> Int32 {
    guard let receiver = startup.exported("random") else {
        print("rngd: no Receiver for `random`; exiting")
        return 1
    }
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("rngd: no IPC buffer page; exiting")
        return 1
    }
    let sources = Sources.probe()
    let server = RandomServer(page: page, sources: sources)
    if sources.rdseed || sources.rdrand {
        print("rngd: keyed from \(sources.rdseed ? "RDSEED" : "")\(sources.rdseed && sources.rdrand ? " and " : "")"
              + "\(sources.rdrand ? "RDRAND" : "") and timing jitter; serving `random`")
    } else {
        print("rngd: no hardware random source (the CPU has neither RDRAND nor RDSEED); keyed from timing jitter only; serving `random`")
    }
    return server.run(receiver)
}
