import Foundation
import Testing
import Formats

/// timed's calendar arithmetic and RTC decoding (Sources/Formats/CivilTime.swift) against Foundation, and
/// devices.conf and the deadline list (Sources/Formats/DeviceGrants.swift).
@Suite struct CivilTimeTests {
    static var utc: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }

    @Test func unixSecondsMatchFoundationOverCenturies() {
        var rng = SystemRandomNumberGenerator()
        for i in 0..<2000 {
            let seconds = i < 4 ? [0, -1, 951_782_400, 4_107_542_399][i] : Int64.random(in: -2_208_988_800...7_258_118_400, using: &rng)
            let t = CivilDateTime(unixSeconds: seconds)
            let c = Self.utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            #expect([t.year, t.month, t.day, t.hour, t.minute, t.second] == [c.year, c.month, c.day, c.hour, c.minute, c.second].map { Int64($0!) },
                    "\(seconds)")
            #expect(t.unixSeconds == seconds)
            #expect(t.isValid)
        }
    }

    @Test func rtcRegistersInBCDAndBinaryAnd12Hour() {
        // 2026-11-27 07:05:09 in BCD, 24-hour, century register 0x20.
        var r = RTCRegisters(second: 0x09, minute: 0x05, hour: 0x07, day: 0x27, month: 0x11, year: 0x26, century: 0x20, statusB: 0x02)
        #expect(r.dateTime == CivilDateTime(year: 2026, month: 11, day: 27, hour: 7, minute: 5, second: 9))
        #expect(r.dateTime!.unixSeconds == Int64(Self.utc.date(from: DateComponents(year: 2026, month: 11, day: 27, hour: 7, minute: 5, second: 9))!.timeIntervalSince1970))
        // Binary, 12-hour: 11 PM is 23; 12 AM is 0; no century register: year 99 is 1999.
        r = RTCRegisters(second: 59, minute: 59, hour: 0x80 | 11, day: 31, month: 12, year: 99, century: 0, statusB: 0x04)
        #expect(r.dateTime == CivilDateTime(year: 1999, month: 12, day: 31, hour: 23, minute: 59, second: 59))
        r.hour = 12
        #expect(r.dateTime?.hour == 0)
        r.hour = 0x80 | 12
        #expect(r.dateTime?.hour == 12)
        // Not BCD, not a date: nil.
        #expect(RTCRegisters(second: 0x5a, minute: 0, hour: 0, day: 1, month: 1, year: 0x26, century: 0x20, statusB: 0x02).dateTime == nil)
        #expect(RTCRegisters(second: 0, minute: 0, hour: 0, day: 0x30, month: 0x02, year: 0x26, century: 0x20, statusB: 0x02).dateTime == nil)
        #expect(RTCRegisters(second: 0, minute: 0, hour: 0, day: 0x29, month: 0x02, year: 0x24, century: 0x20, statusB: 0x02).dateTime != nil)
    }

    @Test func deviceGrantsParseAndRejectBadLines() {
        let text = """
        # comment
        kbd  data ioport 0x60 1
        kbd  irq  irq isa 1   # trailing comment
        moused irq irq gsi 12
        fbd  fb   physical 0xfd000000 0x300000
        fbd  screen framebuffer
        bad  v    framebuffer 1
        bad  x    ioport 0xffff 2
        bad  y    irq isa 256
        bad  z    physical 0x1001 0x1000
        bad  w    nonsense 1 2
        short line
        """
        let (grants, bad) = DeviceGrants.parse(Array(text.utf8))
        #expect(grants == [DeviceGrant(server: "kbd", name: "data", kind: .ioPort(base: 0x60, count: 1)),
                           DeviceGrant(server: "kbd", name: "irq", kind: .irq(number: 1, isa: true)),
                           DeviceGrant(server: "moused", name: "irq", kind: .irq(number: 12, isa: false)),
                           DeviceGrant(server: "fbd", name: "fb", kind: .physical(address: 0xfd00_0000, size: 0x30_0000)),
                           DeviceGrant(server: "fbd", name: "screen", kind: .framebuffer)])
        #expect(bad == [7, 8, 9, 10, 11, 12])
    }

    /// `resource` lines (pcid's narrowed Resources): each kind, its limit, physical alignment.
    @Test func resourceLinesParse() {
        let text = """
        pcid ports  resource ioport 0xcf8 0x7308
        pcid irq16  resource irq 16 8
        pcid mmio   resource physical 0x80000000 0x7ec00000
        pcid dma    resource dma 0 1
        bad  a      resource ioport 0xffff 2
        bad  b      resource irq 250 7
        bad  c      resource physical 0x80000800 0x1000
        bad  d      resource dma 0 2
        bad  e      resource memory 0 1
        bad  f      resource ioport 0x70 0
        """
        let (grants, bad) = DeviceGrants.parse(Array(text.utf8))
        #expect(grants == [DeviceGrant(server: "pcid", name: "ports", kind: .resource(kind: .ioPort, base: 0xcf8, size: 0x7308)),
                           DeviceGrant(server: "pcid", name: "irq16", kind: .resource(kind: .irq, base: 16, size: 8)),
                           DeviceGrant(server: "pcid", name: "mmio", kind: .resource(kind: .physical, base: 0x8000_0000, size: 0x7ec0_0000)),
                           DeviceGrant(server: "pcid", name: "dma", kind: .resource(kind: .dma, base: 0, size: 1))])
        #expect(bad == [5, 6, 7, 8, 9, 10])
    }

    @Test func theShippedDevicesConfParses() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/initfs/etc/devices.conf")
        let (grants, bad) = DeviceGrants.parse(Array(try Data(contentsOf: url)))
        #expect(bad.isEmpty)
        #expect(grants.filter { $0.server == "kbd" }.count == 3 && grants.contains { $0.server == "timed" && $0.kind == .ioPort(base: 0x70, count: 2) })
        #expect(grants.contains(DeviceGrant(server: "fbd", name: "framebuffer", kind: .framebuffer)))
        // pcid holds narrowed Resources only: no kind-less (machine) grant, the DMA right, no RAM below 2 GiB.
        let pcid = grants.filter { $0.server == "pcid" }
        #expect(pcid.count >= 5 && pcid.contains { $0.kind == .resource(kind: .dma, base: 0, size: 1) })
        for g in pcid {
            guard case .resource(let kind, let base, _) = g.kind else { Issue.record("pcid grant \(g.name) is not a Resource"); continue }
            if kind == .physical { #expect(base >= 0x8000_0000) }
        }
    }

    @Test func deadlineListFiresInOrderAndCancels() {
        var list = DeadlineList<String>()
        list.insert(deadline: 300, id: 1, value: "c")
        list.insert(deadline: 100, id: 2, value: "a")
        list.insert(deadline: 200, id: 3, value: "b")
        list.insert(deadline: 100, id: 4, value: "a2")
        #expect(list.next == 100 && list.count == 4)
        #expect(list.remove(id: 3, matching: { $0 == "nope" }) == nil)
        #expect(list.remove(id: 3) == "b")
        #expect(list.takeDue(99).isEmpty)
        #expect(list.takeDue(250).map(\.value) == ["a", "a2"])
        #expect(list.next == 300)
        #expect(list.takeDue(1000).map(\.id) == [1])
        #expect(list.next == nil)
    }
}
