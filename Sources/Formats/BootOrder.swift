// The order root starts the boot servers in, from their manifests alone (pure, host-tested): an
// exporter before its importers; a server whose import nobody exports, one in an import cycle, and one
// that imports from such a server are left out, each with its reason. An optional import (`fat32?`)
// orders the importer after its exporter when one is there, and never keeps the importer from starting:
// nobody exporting it, or its exporter being left out, only means the importer starts without it.

/// Why a boot server is not started.
public enum BootSkip: Equatable {
    /// It imports a service no boot server exports.
    case missingImport(String)
    /// Its imports form a cycle (with the servers listed, itself included).
    case cycle([Int])
    /// It imports from a server that is left out (that server's index).
    case dependsOnSkipped(Int)
}

public struct BootOrder {
    /// Indexes into the manifests, in start order.
    public var order: [Int] = []
    /// Left-out servers and why, in index order.
    public var skipped: [(index: Int, reason: BootSkip)] = []
    /// A service exported twice: the first exporter serves it; (service, first, ignored).
    public var duplicateExports: [(service: String, first: Int, ignored: Int)] = []

    /// The exporter of each service (the first one to export it).
    public static func exporters(_ manifests: [ServerManifest]) -> [(service: String, exporter: Int)] {
        var result: [(service: String, exporter: Int)] = []
        for (i, m) in manifests.enumerated() {
            for s in m.exports where !result.contains(where: { $0.service == s }) { result.append((s, i)) }
        }
        return result
    }

    public init(_ manifests: [ServerManifest]) {
        let exporters = BootOrder.exporters(manifests)
        for (i, m) in manifests.enumerated() {
            for s in m.exports {
                if let first = exporters.first(where: { $0.service == s })?.exporter, first != i {
                    duplicateExports.append((s, first, i))
                }
            }
        }
        enum State { case waiting, started, skipped }
        var state = [State](repeating: .waiting, count: manifests.count)
        var reasons: [(index: Int, reason: BootSkip)] = []
        /// The exporters server i waits for: (exporter, whether the import is optional).
        func dependencies(_ i: Int) -> [(index: Int, optional: Bool)] {
            manifests[i].imports.compactMap { s in
                exporters.first { $0.service == s }.map { ($0.exporter, manifests[i].isOptional(s)) }
            }.filter { $0.index != i }
        }
        for (i, m) in manifests.enumerated() {
            if let missing = m.requiredImports.first(where: { s in !exporters.contains { $0.service == s } }) {
                state[i] = .skipped
                reasons.append((i, .missingImport(missing)))
            }
        }
        var progress = true
        while progress {
            progress = false
            for i in manifests.indices where state[i] == .waiting {
                let deps = dependencies(i)
                if let bad = deps.first(where: { !$0.optional && state[$0.index] == .skipped }) {
                    state[i] = .skipped
                    reasons.append((i, .dependsOnSkipped(bad.index)))
                    progress = true
                } else if deps.allSatisfy({ state[$0.index] == .started || ($0.optional && state[$0.index] == .skipped) }) {
                    state[i] = .started
                    order.append(i)
                    progress = true
                }
            }
        }
        // What still waits is in a cycle or behind one: each names the servers still waiting.
        let stuck = manifests.indices.filter { state[$0] == .waiting }
        for i in stuck { reasons.append((i, .cycle(stuck))) }
        skipped = reasons.sorted { $0.index < $1.index }
    }
}
