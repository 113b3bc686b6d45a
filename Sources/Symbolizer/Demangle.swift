import CLibDW
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The Swift runtime's demangler (exported by libswiftCore).
@_silgen_name("swift_demangle")
private func _swiftDemangle(
    _ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: UInt,
    _ outputBuffer: UnsafeMutablePointer<CChar>?, _ outputBufferSize: UnsafeMutablePointer<UInt>?,
    _ flags: UInt32) -> UnsafeMutablePointer<CChar>?

extension Symbolizer {
    /// Whether a linkage name looks like a Swift mangled name.
    public static func isSwiftMangled(_ name: String) -> Bool {
        name.hasPrefix("$s") || name.hasPrefix("$S") || name.hasPrefix("_$s") || name.hasPrefix("_$S")
            || name.hasPrefix("$e") || name.hasPrefix("_$e") || name.hasPrefix("_T0") || name.hasPrefix("@__swiftmacro_")
    }

    /// Demangles a Swift or C++ (Itanium) symbol; other names (C, already demangled) are returned as they are.
    public static func demangle(_ name: String) -> String {
        if name.hasPrefix("_Z") {
            var status: Int32 = 0
            guard let out = __cxa_demangle(name, nil, nil, &status) else { return name }
            defer { free(out) }
            return status == 0 ? String(cString: out) : name
        }
        guard isSwiftMangled(name) else { return name }
        var name = name
        return name.withUTF8 { utf8 -> String in
            utf8.withMemoryRebound(to: CChar.self) { chars -> String in
                guard let out = _swiftDemangle(chars.baseAddress, UInt(chars.count), nil, nil, 0) else {
                    return String(decoding: utf8, as: UTF8.self)
                }
                defer { free(out) }
                return String(cString: out)
            }
        }
    }
}
