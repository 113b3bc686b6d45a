import Testing
import Formats

/// Optional imports (`imports=initfs,fat32?`): parsed from the manifest, and never a reason in BootOrder
/// to leave the importer out.
@Suite struct OptionalImportTests {
    func parse(_ s: String) throws(ManifestError) -> ServerManifest { try ServerManifest(text: Array(s.utf8)) }

    @Test func aTrailingQuestionMarkMarksAnImportOptional() throws {
        let m = try parse("name=vfs\nimports=initfs,fat32?\nexports=vfs\n")
        #expect(m.imports == ["initfs", "fat32"])
        #expect(m.optionalImports == ["fat32"])
        #expect(m.requiredImports == ["initfs"])
        #expect(m.isOptional("fat32") && !m.isOptional("initfs"))
        #expect(m == ServerManifest(name: "vfs", imports: ["initfs", "fat32"], exports: ["vfs"], optionalImports: ["fat32"]))
        // The text form keeps the marks and parses back to the same manifest.
        #expect(m.text == "name=vfs\nimports=initfs,fat32?\nexports=vfs\n")
        #expect(try parse(m.text) == m)
    }

    @Test func malformedOptionalImportsAreRefused() {
        for text in ["name=a\nimports=?\nexports=\n", "name=a\nimports=b??\nexports=\n", "name=a?\nimports=\nexports=\n",
                     "name=a\nimports=\nexports=b?\n", "name=a\nimports=b,b?\nexports=\n", "name=a\nimports=b?,b\nexports=\n",
                     "name=a\nimports=b,b\nexports=\n", "name=a\nimports=?b\nexports=\n"] {
            #expect(throws: ManifestError.malformed) { try parse(text) }
        }
    }

    func m(_ name: String, imports: [String] = [], optional: [String] = [], exports: [String] = []) -> ServerManifest {
        ServerManifest(name: name, imports: imports, exports: exports, optionalImports: optional)
    }

    @Test func anOptionalImportNobodyExportsDoesNotStopTheImporter() {
        let plan = BootOrder([m("vfs", imports: ["initfs", "fat32"], optional: ["fat32"], exports: ["vfs"]),
                              m("initfsd", exports: ["initfs"]),
                              m("pm", imports: ["vfs"], exports: ["pm"])])
        #expect(plan.order == [1, 0, 2])
        #expect(plan.skipped.isEmpty)
    }

    @Test func anOptionalImportStartsAfterItsExporter() {
        // fsd.fat32 is listed last but vfs waits for it.
        let plan = BootOrder([m("vfs", imports: ["initfs", "fat32"], optional: ["fat32"], exports: ["vfs"]),
                              m("initfsd", exports: ["initfs"]),
                              m("virtio-blk", exports: ["block"]),
                              m("fsd.fat32", imports: ["block"], exports: ["fat32"])])
        #expect(plan.order == [1, 2, 3, 0])
        #expect(plan.skipped.isEmpty)
    }

    @Test func anOptionalImportsSkippedExporterDoesNotStopTheImporter() {
        // fsd.fat32 imports a service nobody exports: it is skipped, vfs still starts (without fat32).
        let plan = BootOrder([m("vfs", imports: ["initfs", "fat32"], optional: ["fat32"], exports: ["vfs"]),
                              m("initfsd", exports: ["initfs"]),
                              m("fsd.fat32", imports: ["block"], exports: ["fat32"]),
                              m("needsVFS", imports: ["vfs"])])
        #expect(plan.order == [1, 0, 3])
        #expect(plan.skipped.map { $0.index } == [2])
        #expect(plan.skipped.first?.reason == .missingImport("block"))
    }

    @Test func aRequiredImportIsStillRequired() {
        let plan = BootOrder([m("a", imports: ["x", "y"], optional: ["y"])])
        #expect(plan.order.isEmpty)
        #expect(plan.skipped.first?.reason == .missingImport("x"))
    }
}
