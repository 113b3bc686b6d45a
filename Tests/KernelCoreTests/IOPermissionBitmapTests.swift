import Testing
@testable import KernelCore

/// The per-process I/O permission bitmap: grants allow exactly their ports, revokes keep what other
/// grants still cover, and the TSS image ends with the terminating byte.
@Suite struct IOPermissionBitmapTests {
    @Test func emptyAllowsNothing() {
        let b = IOPermissionBitmap()
        #expect(!b.allowsAny && b.bytes.isEmpty)
        #expect(!b.allows(0x70) && !b.allows(0))
    }

    @Test func grantAllowsExactlyItsPorts() {
        var b = IOPermissionBitmap()
        b.grant(base: 0x70, count: 2)
        #expect(b.bytes.count == IOPermissionBitmap.tssBytes && b.bytes.last == 0xff)
        #expect(b.allows(0x70) && b.allows(0x71))
        #expect(!b.allows(0x6f) && !b.allows(0x72) && !b.allows(0x64) && !b.allows(0xffff))
        #expect(b.bytes[0x70 / 8] == 0b1111_1100)
        let allowed = (0...0xffff).filter { b.allows(UInt16($0)) }
        #expect(allowed == [0x70, 0x71])
    }

    @Test func wholeSpaceAndByteBoundaries() {
        var b = IOPermissionBitmap()
        b.grant(base: 0, count: 0x1_0000)
        #expect(b.bytes[0..<IOPermissionBitmap.portBytes].allSatisfy { $0 == 0 })
        #expect(b.bytes[IOPermissionBitmap.portBytes] == 0xff)
        var c = IOPermissionBitmap()
        c.grant(base: 5, count: 20)           // 5 ..< 25: partial, whole and partial bytes
        #expect((0..<32).filter { c.allows(UInt16($0)) } == Array(5..<25))
    }

    @Test func revokeKeepsOverlappingGrants() {
        var b = IOPermissionBitmap()
        b.grant(base: 0x60, count: 0x10)      // 0x60 ..< 0x70
        b.grant(base: 0x64, count: 1)
        let v = b.version
        b.revoke(base: 0x60, count: 0x10)
        #expect(b.version != v)
        #expect(b.allows(0x64) && !b.allows(0x60) && !b.allows(0x65))
        b.revoke(base: 0x64, count: 1)
        #expect(!b.allowsAny && b.bytes.isEmpty && !b.allows(0x64))
    }

    @Test func duplicateGrantsCountTwice() {
        var b = IOPermissionBitmap()
        b.grant(base: 0x70, count: 2)
        b.grant(base: 0x70, count: 2)
        b.revoke(base: 0x70, count: 2)
        #expect(b.allows(0x70) && b.allows(0x71))
        b.revoke(base: 0x70, count: 2)
        #expect(!b.allows(0x70))
        b.revoke(base: 0x70, count: 2)        // nothing left to revoke: no change
        #expect(!b.allowsAny)
    }
}
