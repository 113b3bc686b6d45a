import ABI
import Testing
@testable import KernelCore

/// An object whose deaths are counted, to check the table's reference lifetimes.
final class Counted {
    final class Deaths { var count = 0 }
    let deaths: Deaths
    let id: Int
    init(_ id: Int, _ deaths: Deaths) {
        self.id = id
        self.deaths = deaths
    }
    deinit { deaths.count += 1 }
}

@Suite struct HandleTableTests {
    @Test func insertLookupClose() throws {
        var table = HandleTable<Int>(capacity: 16)
        let a = try table.insert(10, rights: [.read, .write])
        let b = try table.insert(20, rights: .read)
        #expect(a != 0 && b != 0 && a != b)
        #expect(table.count == 2)
        let entry = try table.lookup(a)
        #expect(entry.object == 10 && entry.rights == [.read, .write])
        #expect(try table.lookup(b, requiring: .read) == 20)
        let removed = try table.remove(a)
        #expect(removed.0 == 10 && removed.1 == [.read, .write])
        #expect(table.count == 1)
        #expect(throws: SysError.invalidHandle) { try table.lookup(a) }
        #expect(throws: SysError.invalidHandle) { try table.remove(a) }
        #expect(try table.lookup(b).object == 20)
    }

    @Test func staleHandleRejectedAfterReuse() throws {
        var table = HandleTable<Int>(capacity: 1)
        let first = try table.insert(1, rights: .all)
        _ = try table.remove(first)
        let second = try table.insert(2, rights: .all)
        #expect(second != first)
        #expect(throws: SysError.invalidHandle) { try table.lookup(first) }
        #expect(try table.lookup(second).object == 2)
        // Many reuses of one slot never hand out the same value twice in a row, nor 0.
        var previous = second
        for i in 0..<5000 {
            _ = try table.remove(previous)
            let next = try table.insert(i, rights: .read)
            #expect(next != previous && next != 0)
            previous = next
        }
    }

    @Test func zeroAndGarbageRejected() throws {
        var table = HandleTable<Int>(capacity: 8)
        let h = try table.insert(5, rights: .all)
        for bad: UInt32 in [0, 1, 2, 7, h ^ 1, h ^ (1 << 20), h &+ 1, UInt32.max, 0xfff0_0000, h & 0xfffff] {
            #expect(throws: SysError.invalidHandle) { try table.lookup(bad) }
            #expect(throws: SysError.invalidHandle) { try table.remove(bad) }
        }
        #expect(table.count == 1)
    }

    @Test func requiredRights() throws {
        var table = HandleTable<Int>(capacity: 8)
        let h = try table.insert(1, rights: [.read, .map])
        #expect(try table.lookup(h, requiring: []) == 1)
        #expect(try table.lookup(h, requiring: [.read, .map]) == 1)
        #expect(throws: SysError.accessDenied) { try table.lookup(h, requiring: .write) }
        #expect(throws: SysError.accessDenied) { try table.lookup(h, requiring: [.read, .write]) }
        // A bad handle is reported as such before any rights check.
        #expect(throws: SysError.invalidHandle) { try table.lookup(0, requiring: .write) }
    }

    @Test func duplicateRightsSubset() throws {
        var table = HandleTable<Int>(capacity: 8)
        let h = try table.insert(3, rights: [.read, .write, .duplicate])
        let d = try table.duplicate(h, rights: .read)
        #expect(try table.lookup(d).rights == .read && table.count == 2)
        // Adding a right is refused.
        #expect(throws: SysError.accessDenied) { try table.duplicate(h, rights: [.read, .exec]) }
        // The duplicate lacks .duplicate itself.
        #expect(throws: SysError.accessDenied) { try table.duplicate(d, rights: .read) }
        let same = try table.duplicate(h, rights: [.read, .write, .duplicate])
        #expect(try table.lookup(same).rights == [.read, .write, .duplicate])
        let none = try table.insert(4, rights: .read)
        #expect(throws: SysError.accessDenied) { try table.duplicate(none, rights: []) }
        #expect(throws: SysError.invalidHandle) { try table.duplicate(0, rights: []) }
        #expect(table.count == 4)
    }

    @Test func capacityAndFreeListReuse() throws {
        var table = HandleTable<Int>(capacity: 4)
        var handles: [UInt32] = []
        for i in 0..<4 { handles.append(try table.insert(i, rights: .all)) }
        #expect(throws: SysError.noHandles) { try table.insert(9, rights: .all) }
        let dup = handles[0]
        #expect(throws: SysError.noHandles) { try table.duplicate(dup, rights: .read) }
        #expect(table.slots.count == 4)
        _ = try table.remove(handles[1])
        _ = try table.remove(handles[3])
        // Freed slots come back (most recently freed first) and the table does not grow.
        let x = try table.insert(30, rights: .read)
        let y = try table.insert(31, rights: .read)
        #expect(x & 0xfffff == handles[3] & 0xfffff)
        #expect(y & 0xfffff == handles[1] & 0xfffff)
        #expect(table.slots.count == 4 && table.count == 4)
        #expect(throws: SysError.noHandles) { try table.insert(9, rights: .all) }
        #expect(HandleTable<Int>(capacity: 0).capacity == 0)
        var empty = HandleTable<Int>(capacity: 0)
        #expect(throws: SysError.noHandles) { try empty.insert(1, rights: .all) }
    }

    @Test func growsLazily() throws {
        var table = HandleTable<Int>(capacity: 4096)
        #expect(table.slots.isEmpty)
        var handles: [UInt32] = []
        for i in 0..<4096 { handles.append(try table.insert(i, rights: .read)) }
        #expect(Set(handles).count == 4096)
        #expect(throws: SysError.noHandles) { try table.insert(0, rights: .read) }
        for (i, h) in handles.enumerated() { #expect(try table.lookup(h).object == i) }
    }

    @Test func removeAllReturnsEveryObject() throws {
        var table = HandleTable<Int>(capacity: 8)
        let a = try table.insert(1, rights: .all)
        let b = try table.insert(2, rights: .all)
        _ = try table.duplicate(a, rights: .read)
        _ = try table.remove(b)
        #expect(table.removeAll().sorted() == [1, 1])
        #expect(table.count == 0)
        #expect(throws: SysError.invalidHandle) { try table.lookup(a) }
        #expect(table.removeAll().isEmpty)
        // Usable again afterwards.
        let c = try table.insert(3, rights: .read)
        #expect(c != a && c != b)
        #expect(try table.lookup(c).object == 3)
    }

    @Test func objectDiesWithLastHandle() throws {
        let deaths = Counted.Deaths()
        var table = HandleTable<Counted>(capacity: 8)
        let h = try table.insert(Counted(1, deaths), rights: .all)
        let d = try table.duplicate(h, rights: .read)
        #expect(deaths.count == 0)
        _ = try table.remove(h)
        #expect(deaths.count == 0)
        #expect(try table.lookup(d).object.id == 1)
        _ = try table.remove(d)
        #expect(deaths.count == 1)

        // Teardown: each object dies once, when the returned array goes away.
        let x = try table.insert(Counted(2, deaths), rights: .all)
        _ = try table.duplicate(x, rights: .read)
        _ = try table.insert(Counted(3, deaths), rights: .all)
        do {
            let objects = table.removeAll()
            withExtendedLifetime(objects) {
                #expect(objects.count == 3)
                #expect(deaths.count == 1)
            }
        }
        #expect(deaths.count == 3)
    }

    /// take: the object leaves with the slot's reference (a move between two tables keeps it alive and
    /// counts nothing twice), the handle goes stale, the slot is reused with a new generation.
    @Test func takeMovesTheReference() throws {
        let deaths = Counted.Deaths()
        var source = HandleTable<Counted>(capacity: 4)
        var target = HandleTable<Counted>(capacity: 4)
        let h = try source.insert(Counted(7, deaths), rights: [.read, .transfer])
        let other = try source.insert(Counted(8, deaths), rights: .read)
        var moved: UInt32 = 0
        do {
            guard let (object, rights) = source.take(h) else { Issue.record("take of a live handle"); return }
            #expect(object.id == 7 && rights == [.read, .transfer])
            #expect(source.count == 1)
            #expect(source.take(h) == nil)
            #expect(throws: SysError.invalidHandle) { try source.lookup(h) }
            moved = try target.insert(object, rights: rights)
        }
        #expect(deaths.count == 0)
        #expect(try target.lookup(moved).object.id == 7)
        // The freed slot is reused under another value; the other handle is untouched.
        let again = try source.insert(Counted(9, deaths), rights: .read)
        #expect(again != h && again & 0xfffff == h & 0xfffff)
        #expect(try source.lookup(other).object.id == 8)
        for bad: UInt32 in [0, 1, h ^ (1 << 20), UInt32.max] { #expect(source.take(bad) == nil) }
        _ = try target.remove(moved)
        #expect(deaths.count == 1)
    }

    @Test func tableDeathReleasesObjects() throws {
        let deaths = Counted.Deaths()
        do {
            var table = HandleTable<Counted>(capacity: 8)
            _ = try table.insert(Counted(1, deaths), rights: .all)
            _ = try table.insert(Counted(2, deaths), rights: .all)
            #expect(deaths.count == 0)
        }
        #expect(deaths.count == 2)
    }
}
