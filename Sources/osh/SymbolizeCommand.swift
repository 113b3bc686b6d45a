import ArgumentParser
import Foundation
import Symbolizer

/// `osh symbolize --elf FILE [ADDR…]`: addresses to function, file:line:column, like llvm-symbolizer.
public struct SymbolizeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "symbolize",
        abstract: "Print function and file:line:column for addresses of an ELF file (inlined frames included).",
        discussion: """
            Addresses are hexadecimal (0x optional), given as arguments or, without arguments, read from \
            standard input one per line. Output is that of llvm-symbolizer --inlining: per frame the \
            function then file:line:column, a blank line after each address.
            """)

    @Option(name: .customLong("elf"), help: "The ELF file (with DWARF) the addresses belong to.")
    var elf: String

    @Flag(name: .customLong("return-address"), help: "Treat the addresses as return addresses (look up address-1).")
    var returnAddress = false

    @Argument(help: "Addresses, e.g. 0xffffffff80101234.")
    var addresses: [String] = []

    public init() {}

    public func run() throws {
        let symbolizer: ELFSymbolizer
        do {
            symbolizer = try ELFSymbolizer(path: elf)
        } catch {
            throw SymbolizerCLI.fail(error.description)
        }
        let stdout = FileHandle.standardOutput
        if addresses.isEmpty {
            let input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
            Symbolizer.symbolizeAddressList(input, with: symbolizer) { stdout.write(Data($0)) }
            return
        }
        var out: [UInt8] = []
        for text in addresses {
            guard let address = Symbolizer.parseAddress(Array(text.utf8)) else {
                throw SymbolizerCLI.fail("not a hexadecimal address: \(text)")
            }
            Symbolizer.appendLLVMStyle(symbolizer.frames(at: address, returnAddress: returnAddress), to: &out)
        }
        stdout.write(Data(out))
    }
}

/// Error reporting shared by `osh symbolize` and `osh trace`: one line on standard error, exit status 1.
enum SymbolizerCLI {
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("osh: error: \(message)\n".utf8))
        return ExitCode(1)
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("osh: warning: \(message)\n".utf8))
    }
}
