import Foundation
import Testing
import Formats

/// ChaCha20 (Sources/Formats/ChaCha20.swift) against RFC 8439's test vectors and Python's `cryptography`
/// (OpenSSL's ChaCha20), and the generator's fast key erasure and reseeding.
@Suite struct ChaCha20Tests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = [], i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    let key = ChaCha20.words(Array(0..<32))

    @Test func blockFunctionMatchesRFC8439Section232() {
        let out = ChaCha20.blockBytes(key: key, counter: 1, nonce: ChaCha20.words([0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0]))
        #expect(Self.hex(out) == "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
                + "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e")
    }

    @Test func encryptionMatchesRFC8439Section242() {
        let text = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
        let out = ChaCha20.xor(text, key: key, counter: 1, nonce: ChaCha20.words([0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0]))
        #expect(Self.hex(out) == "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b357"
                + "1639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d")
        #expect(ChaCha20.xor(out, key: key, counter: 1, nonce: ChaCha20.words([0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0])) == text)
    }

    /// 40 random keys, nonces and counters (some near the 32-bit counter's end), 200 bytes of keystream
    /// each, against Python's cryptography package.
    @Test func keystreamMatchesPythonCryptography() throws {
        var rng = SystemRandomNumberGenerator()
        var cases: [(key: [UInt8], nonce: [UInt8], counter: UInt32)] = []
        for i in 0..<40 {
            let k = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let n = (0..<12).map { _ in UInt8.random(in: 0...255, using: &rng) }
            cases.append((k, n, i < 5 ? UInt32.max - UInt32(i) : UInt32.random(in: 0...UInt32.max - 4, using: &rng)))
        }
        let script = """
        import sys
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
        for line in sys.stdin:
            k, n, c = line.split()
            ctr = int(c)
            out = b""
            # One block at a time: OpenSSL carries the counter into the nonce past 2^32, RFC 8439 wraps.
            for b in range(4):
                nonce = ((ctr + b) % 2**32).to_bytes(4, "little") + bytes.fromhex(n)
                out += Cipher(algorithms.ChaCha20(bytes.fromhex(k), nonce), mode=None).encryptor().update(bytes(64))
            print(out[:200].hex())
        """
        let input = cases.map { "\(Self.hex($0.key)) \(Self.hex($0.nonce)) \($0.counter)" }.joined(separator: "\n") + "\n"
        let p = Process()
        // Debian's python3, where scripts/deps.sh installs python3-cryptography.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script]
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        try p.run()
        stdin.fileHandleForWriting.write(input.data(using: .utf8)!)
        try stdin.fileHandleForWriting.close()
        let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "python3 with the cryptography package is needed (scripts/deps.sh)")
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == cases.count)
        for (c, line) in zip(cases, lines) {
            let mine = ChaCha20.xor([UInt8](repeating: 0, count: 200), key: ChaCha20.words(c.key), counter: c.counter,
                                    nonce: ChaCha20.words(c.nonce))
            #expect(Self.hex(mine) == line, "key \(Self.hex(c.key)) counter \(c.counter)")
        }
    }

    @Test func generatorOutputIsKeystreamThenTheKeyIsErased() {
        let seed = Array(UInt8(100)..<UInt8(132))
        var g = ChaCha20Generator(seed: seed)
        let first = g.bytes(100)
        // Blocks 1 and 2 of the seed key with a zero nonce.
        let expected = ChaCha20.xor([UInt8](repeating: 0, count: 100), key: ChaCha20.words(seed), counter: 1, nonce: [0, 0, 0])
        #expect(first == expected)
        // The next key is block 0's first 32 bytes.
        let nextKey = Array(ChaCha20.blockBytes(key: ChaCha20.words(seed), counter: 0, nonce: [0, 0, 0]).prefix(32))
        let second = g.bytes(64)
        #expect(second == ChaCha20.xor([UInt8](repeating: 0, count: 64), key: ChaCha20.words(nextKey), counter: 1, nonce: [0, 0, 0]))
        #expect(second != Array(first.prefix(64)))
    }

    @Test func reseedChangesTheStreamAndDependsOnTheEntropy() {
        let seed = [UInt8](repeating: 7, count: 32)
        var a = ChaCha20Generator(seed: seed), b = ChaCha20Generator(seed: seed), c = ChaCha20Generator(seed: seed)
        b.reseed([1, 2, 3])
        c.reseed([1, 2, 4])
        let (x, y, z) = (a.bytes(64), b.bytes(64), c.bytes(64))
        #expect(x != y && y != z && x != z)
        #expect(b.reseeds == 1)
        var d = ChaCha20Generator(seed: seed)
        d.reseed([UInt8](repeating: 9, count: 100))   // four chunks
        #expect(d.reseeds == 4)
    }

    @Test func generatorOutputLooksUniform() {
        var g = ChaCha20Generator(seed: Array(0..<32))
        var counts = [Int](repeating: 0, count: 256)
        var ones = 0
        for _ in 0..<64 {
            for b in g.bytes(4096) { counts[Int(b)] += 1; ones += b.nonzeroBitCount }
        }
        let n = 64 * 4096, expected = Double(n) / 256
        let chi2 = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        #expect(chi2 > 150 && chi2 < 380, "chi-square \(chi2)")
        #expect(abs(ones - n * 4) < 4 * 724, "\(ones) ones")
    }
}
