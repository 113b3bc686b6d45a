// displaytest: the guest half of Tests/IntegrationTests/DisplayTests.swift. init starts it with
// `displaytest` on the kernel command line (init.conf), with Senders to fbd (import:framebuffer) and
// outputd (import:output). It sends both servers malformed and refused requests and checks their error
// answers, then clears outputd's screen and writes DisplayTest.text (plain, coloured and bold lines) for
// the host to compare a QMP screendump against the font. `displaytest: ok NAME` / `FAIL NAME: why` per
// check, then `displaytest: N passed, N failed` and `displaytest: written`; it then waits (the host ends
// the VM). Without a framebuffer (a direct boot) it checks the `.noDevice` / `.noServer` answers instead
// and prints `displaytest: no framebuffer`.

let programName: StaticString = "displaytest"

var passed = 0, failed = 0

func check(_ name: String, _ ok: Bool, _ why: @autoclosure () -> String = "") {
    if ok { passed += 1; print("displaytest: ok \(name)") } else { failed += 1; print("displaytest: FAIL \(name): \(why())") }
}

/// What displaytest writes after clearing the screen (DisplayTests expects these cells).
let displayText = "\u{1b}[2J\u{1b}[Hhello\n\u{1b}[31mred \u{1b}[1;32mbold green\u{1b}[0m \u{1b}[97;44mwhite on blue\u{1b}[0m\n"
    + "\u{1b}[3;10H\u{1b}[93mat row 3, column 10\u{1b}[0m"

/// The reply's label to a request of `label` with `words` and nothing else.
func label(_ sender: Handle, _ label: UInt32, words: Int = 0, _ w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)) -> UInt32? {
    (try? senderCall(sender, IPCMessage(tag: IPCTag(words: words, label: label), words: w)))?.tag.label
}

/// fbd: info, surface, and its answers to requests it must refuse. True when there is a framebuffer.
func framebufferChecks(_ fbd: Handle, page: IPCBufferPage) -> Bool {
    let bad = FramebufferError.badMessage.rawValue
    check("fbd.unknown_label", label(fbd, 99) == bad)
    check("fbd.present_too_few_words", label(fbd, FramebufferLabel.present.rawValue, words: 2) == bad)
    // A request carrying a handle it does not take: refused, and the handle closed by fbd (moved away).
    if let n = try? notifyCreate() {
        page.setHandle(0, n)
        let reply = try? senderCall(fbd, IPCMessage(tag: IPCTag(handles: 1, label: FramebufferLabel.info.rawValue)))
        check("fbd.info_with_handle", reply?.tag.label == bad, "label \(reply?.tag.label ?? 0)")
    }
    guard let info = try? senderCall(fbd, IPCMessage(label: FramebufferLabel.info.rawValue)) else {
        check("fbd.info", false, "no answer")
        return false
    }
    if info.tag.label == FramebufferError.noDevice.rawValue {
        check("fbd.surface_no_device", label(fbd, FramebufferLabel.surface.rawValue) == FramebufferError.noDevice.rawValue)
        return false
    }
    let (width, height) = (info.words.0, info.words.1)
    check("fbd.info", info.tag.label == 0 && width >= 640 && height >= 480 && info.words.2 == FramebufferProtocol.rgb32Format
          && info.words.3 >= width * 4, "label \(info.tag.label) \(width)x\(height) format \(info.words.2)")
    print("displaytest: fbd screen \(width)x\(height)")
    check("fbd.present_before_surface", label(fbd, FramebufferLabel.present.rawValue, words: 4, (0, 0, 8, 8))
          == FramebufferError.noSurface.rawValue)
    let reply = try? senderCall(fbd, IPCMessage(label: FramebufferLabel.surface.rawValue))
    check("fbd.surface", reply?.tag.label == 0 && reply?.tag.handles == 1 && (reply?.words.0 ?? 0) >= width * height * 4,
          "label \(reply?.tag.label ?? 0)")
    if reply?.tag.handles == 1 {
        let surface = page.handle(0)
        if let at = try? MappingSpace.map(surface, length: reply!.words.0) {
            // The surface is this client's own memory: writable, and not the screen (nothing presented).
            UnsafeMutablePointer<UInt32>(bitPattern: UInt(at))!.pointee = 0x123456
            check("fbd.surface_maps", UnsafeMutablePointer<UInt32>(bitPattern: UInt(at))!.pointee == 0x123456)
            MappingSpace.unmap(at, length: reply!.words.0)
        }
        _ = try? handleClose(surface)
    }
    let invalid = FramebufferError.invalid.rawValue
    for (name, rect) in [("empty", (0, 0, 0, 8)), ("right_edge", (width > 4 ? width - 4 : 0, 0, 8, 8)), ("bottom_edge", (0, height, 1, 1)),
                         ("wrapping", (UInt64.max, 0, 2, 2)), ("huge", (0, 0, width, UInt64.max))] as [(String, (UInt64, UInt64, UInt64, UInt64))] {
        check("fbd.present_\(name)", label(fbd, FramebufferLabel.present.rawValue, words: 4, rect) == invalid)
    }
    return true
}

/// outputd through the file protocol: refused opens and writes, then the text.
func outputChecks(_ output: Handle, hasScreen: Bool) {
    guard let files = try? FileService(output) else {
        check("output.client", false, "no FileService")
        return
    }
    guard hasScreen else {
        do throws(FileError) { _ = try files.open("/", .write); check("output.open_no_device", false, "opened") } catch {
            check("output.open_no_device", error == .noServer, "\(error.name)")
        }
        return
    }
    func refused(_ name: String, _ path: String, _ flags: OpenFlags, _ want: FileError) {
        do throws(FileError) { _ = try files.open(path, flags); check(name, false, "opened") } catch {
            check(name, error == want, "\(error.name)")
        }
    }
    refused("output.open_read", "/", [.read, .write], .accessDenied)
    refused("output.open_no_mode", "/", [], .invalid)
    refused("output.open_directory", "/", [.write, .directory], .notDirectory)
    refused("output.open_other_path", "/tty", .write, .notFound)
    do throws(FileError) { _ = try files.open("/", .write, window: pageSize); check("output.open_window", false, "opened") } catch {
        check("output.open_window", error == .notSupported, "\(error.name)")
    }
    do throws(FileError) { _ = try files.call(.write, [12345, 0, 0]); check("output.write_bad_id", false, "written") } catch {
        check("output.write_bad_id", error == .badFile, "\(error.name)")
    }
    do throws(FileError) { _ = try files.call(.open, []); check("output.open_too_few_words", false, "answered 0") } catch {
        check("output.open_too_few_words", error == .badMessage, "\(error.name)")
    }
    let unknown = try? senderCall(output, IPCMessage(label: 77))
    check("output.unknown_label", unknown?.tag.label == FileError.badMessage.rawValue)
    let file: OpenFile
    do throws(FileError) { file = try files.open("/", .write) } catch {
        check("output.open", false, "\(error.name)")
        return
    }
    check("output.open", true)
    do throws(FileError) { _ = try files.call(.write, [file.id, 5, 0]); check("output.write_count_mismatch", false, "written") } catch {
        check("output.write_count_mismatch", error == .invalid, "\(error.name)")
    }
    do throws(FileError) { _ = try file.read(count: 1); check("output.read", false, "read") } catch {
        check("output.read", error == .accessDenied, "\(error.name)")
    }
    if let size = try? files.call(.control, [file.id, TerminalControl.getSize.rawValue, 0]) {
        check("output.size", size.words.0 >> 32 >= 80 && size.words.0 & 0xffff_ffff >= 25,
              "\(size.words.0 >> 32)x\(size.words.0 & 0xffff_ffff)")
    } else {
        check("output.size", false, "refused")
    }
    // Written in pieces that cut escape sequences in two: the terminal's state lasts across writes.
    let bytes = Array(displayText.utf8)
    var at = 0, step = 7
    while at < bytes.count {
        let piece = Array(bytes[at..<min(bytes.count, at + step)])
        let n = (try? file.write(piece)) ?? -1
        if n != piece.count {
            check("output.write", false, "wrote \(n) of \(piece.count)")
            return
        }
        at += piece.count
        step = step == 7 ? 3 : 7
    }
    check("output.write", true)
}

func programMain(_ startup: Startup) -> Int32 {
    guard let page = try? IPCBufferPage.make(), (try? page.install()) != nil else {
        print("displaytest: no IPC buffer page")
        return 1
    }
    guard let fbd = startup.imported("framebuffer"), let output = startup.imported("output") else {
        print("displaytest: FAIL: missing import:framebuffer or import:output")
        return 1
    }
    let hasScreen = framebufferChecks(fbd, page: page)
    outputChecks(output, hasScreen: hasScreen)
    print("displaytest: \(passed) passed, \(failed) failed")
    print(hasScreen ? "displaytest: written" : "displaytest: no framebuffer")
    if let n = try? notifyCreate() { while true { _ = try? notifyWait(n) } }
    return Int32(failed)
}
