// zstd-bench FILE.zst: the Swift decoder's time over libzstd's on the same frames, measured in one run
// (best of several rounds each, so both see the same machine state). Prints `NAME VALUE UNIT` lines.
import CZstd
import Formats
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 2, let data = FileManager.default.contents(atPath: arguments[1]) else {
    FileHandle.standardError.write("usage: ZstdBench FILE.zst\n".data(using: .utf8)!)
    exit(2)
}
let packed = [UInt8](data)
let expected: [UInt8]
do { expected = try zstdDecompress(packed) } catch {
    FileHandle.standardError.write("ZstdBench: \(arguments[1]): \(error)\n".data(using: .utf8)!)
    exit(1)
}
let size = Int(ZSTD_getFrameContentSize(packed, packed.count))
var reference = [UInt8](repeating: 0, count: max(size, expected.count))

func best(_ rounds: Int, _ body: () -> Void) -> Double {
    var fastest = Double.infinity
    for _ in 0..<rounds {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        fastest = min(fastest, Double(DispatchTime.now().uptimeNanoseconds - start))
    }
    return fastest
}

let swiftTime = best(9) { _ = try? zstdDecompress(packed) }
let libTime = best(9) {
    let n = reference.withUnsafeMutableBytes { o in packed.withUnsafeBytes { i in
        ZSTD_decompress(o.baseAddress, o.count, i.baseAddress, i.count) } }
    precondition(ZSTD_isError(n) == 0 && n == expected.count, "libzstd disagrees on the size")
}
precondition(Array(reference.prefix(expected.count)) == expected, "libzstd and the Swift decoder disagree")
print("initfs.zstd.host_ratio", String(format: "%.2f", swiftTime / libTime), "ratio")
print("initfs.zstd.host_mb_per_sec", String(format: "%.1f", Double(expected.count) / swiftTime * 1e3), "MB/s")
