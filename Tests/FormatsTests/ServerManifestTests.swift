// Server manifests: the text format (every rule of Sources/ABI/ManifestNote.swift) and the note in the
// programs the Makefile builds.

import Foundation
import Testing
@testable import Formats

@Suite("server manifests")
struct ServerManifestTests {
    func parse(_ s: String) throws(ManifestError) -> ServerManifest { try ServerManifest(text: Array(s.utf8)) }

    @Test("well-formed manifests")
    func wellFormed() throws {
        #expect(try parse("name=pm\nimports=vfs,initfs\nexports=pm\n")
                == ServerManifest(name: "pm", imports: ["vfs", "initfs"], exports: ["pm"]))
        #expect(try parse("exports=\nname=x.y-z_1\nimports=\n") == ServerManifest(name: "x.y-z_1", imports: [], exports: []))
        let m = ServerManifest(name: "vfs", imports: ["initfs"], exports: ["vfs", "fs"])
        #expect(try parse(m.text) == m)
    }

    @Test("malformed manifests are refused", arguments: [
        "", "name=pm\nimports=\n", "name=pm\nimports=\nexports=\nname=pm\n", "name=a,b\nimports=\nexports=\n",
        "name=\nimports=\nexports=\n", "name=pm\nimports=a,,b\nexports=\n", "name=p m\nimports=\nexports=\n",
        "name=pm\nimports=\nexports=\nextra=1\n", "name pm\nimports=\nexports=\n",
        "name=\(String(repeating: "a", count: 65))\nimports=\nexports=\n", "name=pm\nimports=é\nexports=\n"])
    func malformed(text: String) {
        #expect(throws: ManifestError.malformed) { try parse(text) }
    }

    @Test("the built programs carry their manifests; the kernel has none")
    func builtPrograms() throws {
        let build = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("build")
        for name in ["root", "crashtest", "ipcbench"] {
            let data = try Data(contentsOf: build.appendingPathComponent("servers/\(name).elf"))
            let m = data.withUnsafeBytes { b in Result { () throws(ManifestError) in try ServerManifest(elf: b) } }
            #expect(try m.get().name == name)
        }
        let kernel = try Data(contentsOf: build.appendingPathComponent("kernel.elf"))
        let k = kernel.withUnsafeBytes { b in Result { () throws(ManifestError) in try ServerManifest(elf: b) } }
        #expect(throws: ManifestError.missing) { try k.get() }
        let text = Data("not an elf file".utf8)
        let t = text.withUnsafeBytes { b in Result { () throws(ManifestError) in try ServerManifest(elf: b) } }
        #expect(throws: ManifestError.notELF) { try t.get() }
    }
}
