// The pure part of `osh profile`: folded stacks (`a;b;c N`, root first, as Brendan Gregg's
// stackcollapse tools write them), the top-functions table, the difference of two profiles, and the
// flame graph SVG. Nothing here talks to QEMU; ProfileCommand.swift samples and calls these.

import Foundation

/// A profile: folded stack (root first, frames joined by `;`) → number of samples.
public struct FoldedProfile: Equatable, Sendable {
    public var stacks: [String: Int] = [:]

    public init(stacks: [String: Int] = [:]) { self.stacks = stacks }

    /// Total number of samples.
    public var total: Int { stacks.values.reduce(0, +) }

    /// Adds one sample: `frames` leaf first (as a frame-pointer walk gives them).
    public mutating func add(leafFirst frames: [String], count: Int = 1) {
        guard !frames.isEmpty else { return }
        let key = frames.reversed().map(FoldedProfile.clean).joined(separator: ";")
        stacks[key, default: 0] += count
    }

    /// A frame name as it may appear in a folded line: no `;`, no line breaks, not empty.
    static func clean(_ name: String) -> String {
        let s = name.replacingOccurrences(of: ";", with: ",").replacingOccurrences(of: "\n", with: " ")
        return s.isEmpty ? "[unknown]" : s
    }

    /// The folded text: one `stack count` line per stack, sorted by stack (the same profile gives the
    /// same bytes).
    public var text: String {
        stacks.keys.sorted().map { "\($0) \(stacks[$0]!)\n" }.joined()
    }

    /// Parses folded text; lines that do not end in a count are skipped.
    public static func parse(_ text: String) -> FoldedProfile {
        var p = FoldedProfile()
        for line in text.split(whereSeparator: \.isNewline) {
            guard let space = line.lastIndex(of: " "), let n = Int(line[line.index(after: space)...]), n > 0 else { continue }
            let stack = String(line[..<space])
            if !stack.isEmpty { p.stacks[stack, default: 0] += n }
        }
        return p
    }

    /// One function's figures: samples where it is the leaf (self) and where it is anywhere (total,
    /// counted once per sample even when it recurses).
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var selfSamples: Int
        public var totalSamples: Int
    }

    /// Every function with its self and total samples, by self samples (then total, then name).
    public func functions() -> [Entry] {
        var selfCount: [String: Int] = [:], totalCount: [String: Int] = [:]
        for (stack, n) in stacks {
            let frames = stack.split(separator: ";").map(String.init)
            if let leaf = frames.last { selfCount[leaf, default: 0] += n }
            for f in Set(frames) { totalCount[f, default: 0] += n }
        }
        return totalCount.keys.map { Entry(name: $0, selfSamples: selfCount[$0] ?? 0, totalSamples: totalCount[$0]!) }
            .sorted { ($0.selfSamples, $0.totalSamples, $1.name) > ($1.selfSamples, $1.totalSamples, $0.name) }
    }

    /// The table `osh profile` prints: the first `limit` functions by self samples.
    public func topTable(limit: Int) -> String {
        let all = total
        guard all > 0 else { return "no samples\n" }
        var lines = ["  self%  total%  function"]
        for e in functions().prefix(limit) {
            lines.append(String(format: "%6.1f%% %6.1f%%  ", 100 * Double(e.selfSamples) / Double(all),
                                100 * Double(e.totalSamples) / Double(all)) + e.name)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A function whose share of samples changed between two profiles (shares in percent, by total).
    public struct Change: Equatable, Sendable {
        public var name: String
        public var before: Double
        public var after: Double
        public var delta: Double { after - before }
    }

    /// The functions whose total share changed most from `a` to `b`, largest change first.
    public static func diff(_ a: FoldedProfile, _ b: FoldedProfile, limit: Int = 20) -> [Change] {
        func shares(_ p: FoldedProfile) -> [String: Double] {
            let t = Double(max(p.total, 1))
            return Dictionary(uniqueKeysWithValues: p.functions().map { ($0.name, 100 * Double($0.totalSamples) / t) })
        }
        let sa = shares(a), sb = shares(b)
        let names = Set(sa.keys).union(sb.keys)
        return names.map { Change(name: $0, before: sa[$0] ?? 0, after: sb[$0] ?? 0) }
            .filter { $0.delta != 0 }
            .sorted { (abs($0.delta), $1.name) > (abs($1.delta), $0.name) }
            .prefix(limit).map { $0 }
    }

    /// `osh profile --diff`'s table.
    public static func diffTable(_ changes: [Change]) -> String {
        guard !changes.isEmpty else { return "no function's share changed\n" }
        var lines = ["  before   after   change  function"]
        for c in changes {
            lines.append(String(format: "%6.1f%% %6.1f%% %+7.1f%%  ", c.before, c.after, c.delta) + c.name)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A self-contained, interactive flame graph: one SVG with a rectangle per frame (width = samples), a
/// `<title>` per rectangle (name, samples, share), and a small inline script: click zooms into a frame,
/// the search box highlights matching frames and shows their share. No external file or tool.
public enum FlameGraph {
    static let width = 1200.0
    static let frameHeight = 16.0
    static let top = 40.0

    /// A node of the merged call tree.
    final class Node {
        var name: String
        var count = 0
        var children: [String: Node] = [:]
        init(_ name: String) { self.name = name }
    }

    static func tree(_ profile: FoldedProfile) -> Node {
        let root = Node("all")
        for (stack, n) in profile.stacks {
            root.count += n
            var node = root
            for f in stack.split(separator: ";") {
                let name = String(f)
                let child = node.children[name] ?? { let c = Node(name); node.children[name] = c; return c }()
                child.count += n
                node = child
            }
        }
        return root
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A warm colour from the name (the same name gets the same colour in every graph).
    static func colour(_ name: String) -> String {
        var h: UInt32 = 2166136261
        for b in name.utf8 { h = (h ^ UInt32(b)) &* 16777619 }
        let r = 205 + Int(h % 50), g = Int((h >> 8) % 180), b = Int((h >> 16) % 55)
        return "rgb(\(r),\(g),\(b))"
    }

    /// The SVG text for `profile`, titled `title`.
    public static func svg(_ profile: FoldedProfile, title: String) -> String {
        let root = tree(profile)
        var depth = 0
        func maxDepth(_ n: Node, _ d: Int) { depth = max(depth, d); for c in n.children.values { maxDepth(c, d + 1) } }
        maxDepth(root, 0)
        let height = top + Double(depth + 1) * frameHeight + 30
        var rects: [String] = []
        let total = Double(max(root.count, 1))
        func emit(_ n: Node, x: Double, d: Int) {
            let w = Double(n.count) / total * (width - 20)
            let y = height - 30 - Double(d + 1) * frameHeight
            let pct = String(format: "%.2f", 100 * Double(n.count) / total)
            let name = escape(n.name)
            rects.append("<g class=\"f\"><title>\(name) (\(n.count) samples, \(pct)%)</title>"
                + "<rect x=\"\(fmt(10 + x))\" y=\"\(fmt(y))\" width=\"\(fmt(w))\" height=\"\(fmt(frameHeight - 1))\" fill=\"\(colour(n.name))\" rx=\"2\"/>"
                + "<text x=\"\(fmt(13 + x))\" y=\"\(fmt(y + 11.5))\">\(escape(label(n.name, width: w)))</text></g>")
            var cx = x
            for c in n.children.values.sorted(by: { $0.name < $1.name }) {
                emit(c, x: cx, d: d + 1)
                cx += Double(c.count) / total * (width - 20)
            }
        }
        emit(root, x: 0, d: 0)
        return """
            <?xml version="1.0" standalone="no"?>
            <svg version="1.1" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" xmlns="http://www.w3.org/2000/svg" onload="init(evt)">
            <style>text{font-family:monospace;font-size:11px;fill:#000;pointer-events:none} .f:hover rect{stroke:#000;stroke-width:0.5;cursor:pointer} #title{font-size:15px} #search{cursor:pointer}</style>
            <rect x="0" y="0" width="100%" height="100%" fill="#f8f8f0"/>
            <text id="title" x="\(Int(width / 2))" y="22" text-anchor="middle">\(escape(title))</text>
            <text id="reset" x="10" y="22" style="cursor:pointer;pointer-events:all">Reset zoom</text>
            <text id="search" x="\(Int(width - 10))" y="22" text-anchor="end" style="pointer-events:all">Search</text>
            <text id="matched" x="\(Int(width - 10))" y="\(Int(height - 10))" text-anchor="end"></text>
            <text id="details" x="10" y="\(Int(height - 10))"></text>
            \(rects.joined(separator: "\n"))
            <script><![CDATA[
            var W = \(width - 20), frames = [];
            function init(evt) {
              var gs = document.getElementsByClassName("f");
              for (var i = 0; i < gs.length; i++) {
                var g = gs[i], r = g.getElementsByTagName("rect")[0], t = g.getElementsByTagName("title")[0].textContent;
                var f = {g: g, r: r, t: g.getElementsByTagName("text")[0], name: t.substring(0, t.lastIndexOf(" (")),
                         x: +r.getAttribute("x"), y: +r.getAttribute("y"), w: +r.getAttribute("width"), title: t};
                frames.push(f);
                g.onclick = (function (f) { return function () { zoom(f); }; })(f);
                g.onmouseover = (function (f) { return function () { document.getElementById("details").textContent = f.title; }; })(f);
              }
              document.getElementById("reset").onclick = function () { zoom(null); };
              document.getElementById("search").onclick = search;
              zoom(null);
            }
            function label(f, x, w) {
              f.r.setAttribute("x", x); f.r.setAttribute("width", Math.max(w, 0));
              f.t.setAttribute("x", x + 3);
              var n = Math.floor((w - 6) / 7);
              f.t.textContent = n < 3 ? "" : (f.name.length <= n ? f.name : f.name.substring(0, n - 2) + "..");
            }
            function zoom(z) {
              var x0 = z ? z.x : 10, w0 = z ? z.w : W;
              for (var i = 0; i < frames.length; i++) {
                var f = frames[i];
                var inside = !z || (f.x >= z.x - 0.001 && f.x + f.w <= z.x + z.w + 0.001) || (f.y > z.y && f.x <= z.x && f.x + f.w >= z.x + z.w);
                f.g.style.display = inside ? "" : "none";
                if (!inside) continue;
                var x = 10 + (f.x - x0) / w0 * W, w = f.w / w0 * W;
                if (z && f.y > z.y) { x = 10; w = W; }
                label(f, Math.max(x, 10), Math.min(w, W));
              }
            }
            function search() {
              var term = prompt("Search (regular expression):", "");
              var matched = 0;
              if (term === null) return;
              var re = new RegExp(term), seen = [];
              for (var i = 0; i < frames.length; i++) {
                var f = frames[i], hit = term !== "" && re.test(f.name);
                f.r.style.fill = hit ? "rgb(230,0,230)" : "";
                if (hit && !seen.some(function (s) { return f.x >= s.x && f.x + f.w <= s.x + s.w && f.y < s.y; })) { seen.push(f); matched += f.w; }
              }
              document.getElementById("matched").textContent = term === "" ? "" : "Matched: " + (100 * matched / W).toFixed(1) + "%";
            }
            ]]></script>
            </svg>

            """
    }

    static func fmt(_ v: Double) -> String { String(format: "%.2f", v) }

    /// The text that fits a frame `width` wide (7 px a character), cut with `..` (as the script does
    /// after a zoom); so the graph reads without the script too, e.g. as an image in a README.
    static func label(_ name: String, width: Double) -> String {
        let n = Int(((width - 6) / 7).rounded(.down))
        if n < 3 { return "" }
        return name.count <= n ? name : String(name.prefix(n - 2)) + ".."
    }
}
