import Testing
import Formats

/// The order root starts boot servers in (Sources/Formats/BootOrder.swift), from manifests alone.
@Suite struct BootOrderTests {
    func m(_ name: String, imports: [String] = [], exports: [String] = []) -> ServerManifest {
        ServerManifest(name: name, imports: imports, exports: exports)
    }

    @Test func exportersStartBeforeImporters() {
        // vfs imports pm and initfs, pm imports initfs; listed importer first.
        let plan = BootOrder([m("vfs", imports: ["pm", "initfs"], exports: ["vfs"]),
                             m("pm", imports: ["initfs"], exports: ["pm"]),
                             m("initfsd", exports: ["initfs"])])
        #expect(plan.order == [2, 1, 0])
        #expect(plan.skipped.isEmpty)
    }

    @Test func aMissingImportSkipsThatServerAndItsImportersOnly() {
        let plan = BootOrder([m("a", imports: ["nothing"], exports: ["a"]),
                             m("b", imports: ["a"]),
                             m("c", exports: ["c"]),
                             m("d", imports: ["c"])])
        #expect(plan.order == [2, 3])
        #expect(plan.skipped.map { $0.index } == [0, 1])
        #expect(plan.skipped[0].reason == .missingImport("nothing"))
        #expect(plan.skipped[1].reason == .dependsOnSkipped(0))
    }

    @Test func aCycleIsSkippedAndTheRestStarts() {
        let plan = BootOrder([m("a", imports: ["b"], exports: ["a"]),
                             m("b", imports: ["a"], exports: ["b"]),
                             m("c", exports: ["c"]),
                             m("self", imports: ["self"], exports: ["self"])])
        // A server importing its own service is no cycle.
        #expect(plan.order == [2, 3])
        #expect(plan.skipped.map { $0.index } == [0, 1])
        #expect(plan.skipped.allSatisfy { $0.reason == .cycle([0, 1]) })
    }

    @Test func behindACycleIsSkippedToo() {
        let plan = BootOrder([m("a", imports: ["b"], exports: ["a"]),
                             m("b", imports: ["a"], exports: ["b"]),
                             m("c", imports: ["a"])])
        #expect(plan.order.isEmpty)
        #expect(plan.skipped.map { $0.index } == [0, 1, 2])
    }

    @Test func theFirstExporterServesADuplicatedService() {
        let plan = BootOrder([m("one", exports: ["x"]), m("two", exports: ["x"]), m("user", imports: ["x"])])
        #expect(plan.order == [0, 1, 2])
        #expect(plan.duplicateExports.count == 1)
        #expect(plan.duplicateExports.first?.first == 0 && plan.duplicateExports.first?.ignored == 1)
        #expect(BootOrder.exporters([m("one", exports: ["x"]), m("two", exports: ["x"])]).map { $0.exporter } == [0])
    }

    @Test func manyServersInAChainStartInOrder() {
        // 50 servers, each importing the next one's service: started from the last to the first.
        let n = 50
        let manifests = (0..<n).map { i in
            m("s\(i)", imports: i + 1 < n ? ["svc\(i + 1)"] : [], exports: ["svc\(i)"])
        }
        #expect(BootOrder(manifests).order == Array((0..<n).reversed()))
    }
}
