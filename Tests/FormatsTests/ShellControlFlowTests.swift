// sh's control flow, background lists, command substitution, field splitting and globbing
// (ShellSyntax.swift, ShellExpansion.swift), and the test/[ built-in (ShellTestCommand.swift).

import Testing
@testable import Formats

@Suite("sh: control flow and expansions")
struct ShellControlFlowTests {
    func parse(_ text: String) throws -> [ShellAndOr] { try ShellSyntax.parse(text) }
    func compound(_ text: String) throws -> ShellCompound? {
        let l = try parse(text)
        #expect(l.count == 1 && l[0].first.commands.count == 1, "\(text)")
        return l[0].first.commands[0].compound
    }
    func names(_ list: [ShellAndOr]) -> [String] { list.map { $0.text } }

    @Test("if, elif, else")
    func ifClause() throws {
        guard case .ifClause(let branches, let otherwise)? = try compound("if a; then b; elif c\nthen d; e; else f; fi") else {
            Issue.record("no if"); return
        }
        #expect(branches.count == 2)
        #expect(names(branches[0].condition) == ["a"] && names(branches[0].body) == ["b"])
        #expect(names(branches[1].body) == ["d", "e"])
        #expect(names(otherwise ?? []) == ["f"])
        guard case .ifClause(_, nil)? = try compound("if a\nthen\n  b\nfi") else { Issue.record("no if"); return }
        #expect(throws: ShellSyntaxError.unexpected("then")) { try parse("if then b; fi") }
        #expect(throws: ShellSyntaxError.unexpected("fi")) { try parse("fi") }
        #expect(throws: ShellSyntaxError.unexpected("x")) { try parse("if a; then b; fi x") }
        // Quoted, a reserved word is a word.
        #expect(try parse("'if' a").first?.first.commands.first?.compound == nil)
        #expect(try parse("echo if then fi").count == 1)
    }

    @Test("while, until, for, groups, !")
    func loops() throws {
        guard case .loop(let c, let b, false)? = try compound("while a; do b; c; done") else { Issue.record("no while"); return }
        #expect(names(c) == ["a"] && names(b) == ["b", "c"])
        guard case .loop(_, _, true)? = try compound("until a\ndo\nb\ndone") else { Issue.record("no until"); return }
        guard case .forLoop("x", let words?, let body)? = try compound("for x in a 'b c' $y; do echo $x; done") else {
            Issue.record("no for"); return
        }
        #expect(words.count == 3 && words[1] == ShellWord([.quoted("b c")]) && names(body) == ["echo $x"])
        guard case .forLoop("i", nil, _)? = try compound("for i; do :; done") else { Issue.record("no for"); return }
        guard case .forLoop("i", [], _)? = try compound("for i in\ndo :; done") else { Issue.record("no for"); return }
        guard case .group(let g)? = try compound("{ a; b | c; }") else { Issue.record("no group"); return }
        #expect(names(g) == ["a", "b | c"])
        let negated = try parse("! a | b && c")
        #expect(negated[0].first.negated && negated[0].first.commands.count == 2 && !negated[0].rest[0].1.negated)
        let redirected = try parse("while a; do b; done < in | wc")
        #expect(redirected[0].first.commands.count == 2 && redirected[0].first.commands[0].redirections.count == 1)
        let nested = try parse("for a in 1 2; do for b in 3; do if x; then break; fi; done; done; echo")
        #expect(nested.count == 2)
    }

    @Test("incomplete input asks for more; bad input does not")
    func incomplete() throws {
        for text in ["if a; then", "if a; then b", "while a", "for x in a b", "for x in a; do b", "{ a;", "a |", "a &&",
                     "echo 'a", "echo \"a", "echo $(a", "echo `a", "echo a\\"] {
            do {
                _ = try ShellSyntax.parse(text)
                Issue.record("\(text) parsed")
            } catch {
                #expect(error.needsMore, "\(text): \(error)")
            }
        }
        for text in ["fi", "a; then", "done", "a ;; b", "if a; fi", "for 1 in a; do b; done"] {
            do {
                _ = try ShellSyntax.parse(text)
                Issue.record("\(text) parsed")
            } catch {
                #expect(!error.needsMore, "\(text): \(error)")
            }
        }
        // Continued lines parse whole.
        #expect(try parse("if a\nthen b\nfi").count == 1)
        #expect(try parse("echo a\\\nb").first?.first.commands[0].words.count == 2)
    }

    @Test("background lists and their text")
    func background() throws {
        let l = try parse("sleep 5 & echo $!; a && b &")
        #expect(l.count == 3)
        #expect(l[0].background && l[0].text == "sleep 5")
        #expect(!l[1].background && l[1].text == "echo $!")
        #expect(l[2].background && l[2].text == "a && b" && l[2].rest.count == 1)
        #expect(l[1].first.commands[0].words[1] == ShellWord([.parameter("!", quoted: false)]))
    }

    @Test("command substitution")
    func substitution() throws {
        let w = try parse("echo $(ls -l | wc -l) \"x$(echo a)\" `pwd`")[0].first.commands[0].words
        #expect(w[1] == ShellWord([.command("ls -l | wc -l", quoted: false)]))
        #expect(w[2] == ShellWord([.quoted("x"), .command("echo a", quoted: true)]))
        #expect(w[3] == ShellWord([.command("pwd", quoted: false)]))
        let nested = try parse("echo $(echo $(echo ')') \"(\")")[0].first.commands[0].words[1]
        #expect(nested == ShellWord([.command("echo $(echo ')') \"(\"", quoted: false)]))
        #expect(w[2].expand({ _ in nil }, substitute: { $0 == "echo a" ? "a\n\n" : "" }) == "xa")
    }

    func fields(_ text: String, ifs: String = ShellExpansion.defaultIFS, _ vars: [String: String] = [:]) throws -> [String] {
        let word = try parse("x " + text)[0].first.commands[0].words[1]
        return ShellExpansion.fields(word, ifs: ifs, lookup: { vars[$0] }, substitute: { "out:\($0)\n" }).map { $0.text }
    }

    @Test("field splitting")
    func splitting() throws {
        let v = ["A": " a  b\tc\n", "E": "", "C": "x:y::z"]
        #expect(try fields("$A", v) == ["a", "b", "c"])
        #expect(try fields("\"$A\"", v) == [" a  b\tc\n"])
        #expect(try fields("1$A.2", v) == ["1", "a", "b", "c", ".2"])
        #expect(try fields("$E", v) == [])
        #expect(try fields("\"$E\"", v) == [""])
        #expect(try fields("''", v) == [""])
        #expect(try fields("$C", ifs: ":", v) == ["x", "y", "", "z"])
        #expect(try fields("$(a b)") == ["out:a", "b"])
        #expect(try fields("\"$(a b)\"") == ["out:a b"])
        #expect(try fields("$A", ifs: "", v) == [" a  b\tc\n"])
    }

    func globField(_ text: String) throws -> ShellField {
        let word = try parse("x " + text)[0].first.commands[0].words[1]
        return ShellExpansion.fields(word, lookup: { $0 == "P" ? "*.txt" : nil })[0]
    }

    @Test("pattern matching")
    func matching() throws {
        func m(_ p: String, _ name: String) throws -> Bool { ShellGlob.matches(try globField(p), Array(name.utf8)) }
        #expect(try m("*", "abc") && m("a*", "abc") && m("*c", "abc") && m("a*b*c", "aXbYc") && m("*", ""))
        #expect(try !m("a*", "bac") && !m("*d", "abc") && !m("a?", "a") && m("a?", "ab"))
        #expect(try m("[abc]x", "bx") && !m("[abc]x", "dx") && m("[a-c]", "b") && !m("[!a-c]", "b") && m("[^a-c]", "d"))
        #expect(try m("[]]", "]") && m("[", "[") && m("a[b", "a[b"))
        #expect(try !m("*", ".hidden") && m(".*", ".hidden") && !m("?hidden", ".hidden"))
        #expect(try !m("'*'", "abc") && m("'*'", "*") && !m("\\*", "x") && m("\"a*\"", "a*"))
        // A pattern from an unquoted expansion is one; from a quoted one it is not.
        #expect(try m("$P", "a.txt") && !m("\"$P\"", "a.txt"))
        #expect(try m("*a*a*a*b", "aaaaaaaaaaab") && !m("*a*a*a*b", "aaaaaaaaaaaa"))
    }

    @Test("globbing against directory listings")
    func globbing() throws {
        let tree: [String: [String]] = [
            ".": ["b.txt", "a.txt", ".hidden", "dir", "c.md"],
            "dir": ["x1", "x2", "y"],
            "/": ["etc", "bin"],
            "initfs:///bin": ["sh", "ls", "cat", "sleep"],
            "initfs:///": ["bin", "etc"],
            "initfs:///etc": ["motd"],
        ]
        func g(_ text: String) throws -> [String] { ShellGlob.expand(try globField(text), list: { tree[$0] }) }
        #expect(try g("*.txt") == ["a.txt", "b.txt"])
        #expect(try g("*") == ["a.txt", "b.txt", "c.md", "dir"])
        #expect(try g(".*") == [".hidden"])
        #expect(try g("dir/x?") == ["dir/x1", "dir/x2"])
        #expect(try g("/[be]*") == ["/bin", "/etc"])
        #expect(try g("initfs:///bin/s*") == ["initfs:///bin/sh", "initfs:///bin/sleep"])
        #expect(try g("initfs:///*/mo*") == ["initfs:///etc/motd"])
        #expect(try g("*.none") == ["*.none"])
        #expect(try g("'*.txt'") == ["*.txt"])
        #expect(try g("plain") == ["plain"])
    }
}

@Suite("sh: test and [")
struct ShellTestCommandTests {
    func t(_ words: String) -> Int32 {
        let files: [String: ShellFileKind] = ["/f": .file, "/d": .directory]
        let args = words.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        return ShellTestCommand.evaluate(words.isEmpty ? [] : args, file: { files[$0] }).0
    }

    @Test("strings, numbers, files, !, -a, -o, ( )")
    func expressions() {
        #expect(t("") == 1 && t("x") == 0 && t("-n x") == 0 && t("-z x") == 1 && t("-n") == 0)
        #expect(t("a = a") == 0 && t("a = b") == 1 && t("a != b") == 0 && t("a == a") == 0)
        #expect(t("3 -eq 3") == 0 && t("3 -lt 4") == 0 && t("4 -le 3") == 1 && t("-1 -gt -2") == 0 && t("2 -ge 2") == 0 && t("1 -ne 1") == 1)
        #expect(t("x -eq 1") == 2)
        #expect(t("-e /f") == 0 && t("-f /f") == 0 && t("-d /f") == 1 && t("-d /d") == 0 && t("-e /nope") == 1)
        #expect(t("! a = b") == 0 && t("! x") == 1 && t("! = !") == 0)
        #expect(t("a = a -a b = c") == 1 && t("a = a -o b = c") == 0 && t("x -o y -a ''") == 0)
        #expect(t("( a = b ) -o x") == 0 && t("( x") == 2 && t("a b") == 2)
    }
}
