import Testing
@testable import OSH

/// `osh boot --display`: a display shows the framebuffer console (fbd, outputd), which only GRUB's ISO
/// boot sets up, so a display picks the ISO boot unless --boot says otherwise.
@Suite struct DisplayOptionTests {
    @Test func aDisplayBootsTheISOUnlessTold() throws {
        #expect(try Boot.parse([]).mode == .direct)
        #expect(try Boot.parse(["--display", "none"]).mode == .direct)
        #expect(try Boot.parse(["--display", "vnc"]).mode == .iso)
        #expect(try Boot.parse(["--display", "gtk"]).mode == .iso)
        #expect(try Boot.parse(["--display", "sdl"]).mode == .iso)
        #expect(try Boot.parse(["--display", "vnc", "--boot", "direct"]).mode == .direct)
        #expect(try Boot.parse(["--boot", "iso"]).mode == .iso)
        #expect(try Boot.parse(["--uefi", "--boot", "direct"]).mode == .iso)
    }

    @Test func vncListensLocallyOnly() {
        let p = QEMULaunchPlan(qemu: "qemu-system-x86_64", mode: .iso, iso: "os.iso", display: .vnc,
                               qmpSocket: "q.sock", gdbSocket: "g.sock")
        let args = BootPlanning.qemuArguments(p)
        let i = args.firstIndex(of: "-display")
        #expect(i != nil && args[i! + 1] == "vnc=127.0.0.1:0,to=99")
    }
}
